//! Residents' personal information as the API serves it: the keyed hash that finds a
//! person by ID number without the number, the masking each role gets (`sync::personal`
//! is the rule), and the validation of edits before they reach storage.

use crate::db::residents::{ResidentEdit, ResidentRow};
use haitang_sync::care::{self, DueState};
use haitang_sync::personal::{
    self, Gender, MAX_NAME_CHARS, PersonalField, mask_id_number, mask_name, mask_phone,
    phone_keeps_clear,
};
use haitang_sync::record::is_uuid;
use haitang_sync::scope::Role;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// HMAC-SHA256 under the server's own key (generated once, kept in `settings`): the same
/// ID number always gives the same hash, so duplicates and look-ups work, but the hash is
/// worthless without the key, unlike a plain hash of an 18-digit number with a known
/// structure, which anyone can reverse by trying them all.
pub struct IdHasher {
    key: Vec<u8>,
}

impl IdHasher {
    pub fn new(key: Vec<u8>) -> IdHasher {
        IdHasher { key }
    }

    /// The keyed hash of a normalised ID number.
    pub fn hash(&self, id_number: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("HMAC takes a key of any length");
        mac.update(id_number.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// A person as one role sees them: masked fields always; clear ones only where the role's
/// phone keeps them (`personal::phone_keeps_clear`), for offline reveals that are logged.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResidentView {
    pub pid: String,
    pub household: String,
    pub relation: String,
    pub status: String,
    pub name_masked: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_year: Option<i64>,
    pub phone_masked: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub id_number_masked: Option<String>,
    /// Hex of the keyed hash, to find duplicates on the phone without the number.
    pub id_hash: Option<String>,
    pub tags: Vec<String>,
    pub erased: bool,
    pub interval_days: Option<i64>,
    pub last_visit_at: Option<i64>,
    pub due_at: Option<i64>,
}

impl ResidentView {
    /// `row` for a phone of `role` (`clear`: keep what the role's phone keeps) or for a
    /// screen that shows everything masked.
    pub fn of(row: ResidentRow, role: Role, clear: bool) -> ResidentView {
        let keep = |f: PersonalField| clear && phone_keeps_clear(role, f);
        ResidentView {
            name_masked: row.name.as_deref().map(mask_name).unwrap_or_default(),
            name: row.name.clone().filter(|_| keep(PersonalField::Name)),
            phone_masked: row.phone.as_deref().map(mask_phone),
            phone: row.phone.clone().filter(|_| keep(PersonalField::Phone)),
            id_number_masked: row.id_number.as_deref().map(mask_id_number),
            id_hash: row.id_hash.as_deref().map(hex::encode),
            pid: row.pid,
            household: row.household,
            relation: row.relation,
            status: row.status,
            gender: row.gender,
            birth_year: row.birth_year,
            tags: row.tags,
            erased: row.erased,
            interval_days: row.interval_days,
            last_visit_at: row.last_visit_at,
            due_at: row.due_at,
        }
    }

    pub fn due_state(&self, now: i64) -> Option<DueState> {
        self.due_at.map(|d| care::due_state(d, now))
    }
}

/// An edit as the API takes it. A field left out is not changed; `null` or `""` clears it
/// (a name cannot be cleared: erasure is its own act).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditIn {
    pub pid: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub gender: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub birth_year: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub id_number: Option<Option<String>>,
    #[serde(default)]
    pub tags_add: Vec<String>,
    #[serde(default)]
    pub tags_remove: Vec<String>,
}

/// Tells a field that is present as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// What is wrong with an edit, naming the field.
pub fn validate(e: EditIn, hasher: &IdHasher, this_year: i64) -> Result<ResidentEdit, String> {
    if !is_uuid(&e.pid) {
        return Err(format!(
            "field `pid` must be a person id (a UUID), found {:?}",
            e.pid
        ));
    }
    let name = match e.name {
        None => None,
        Some(n) => {
            let n = n.trim().to_owned();
            if n.is_empty() {
                return Err("field `name` must not be empty".to_owned());
            }
            if n.chars().count() > MAX_NAME_CHARS {
                return Err(format!(
                    "field `name` is longer than {MAX_NAME_CHARS} characters"
                ));
            }
            Some(n)
        }
    };
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let gender = match e.gender {
        None => None,
        Some(g) => Some(match blank(g) {
            None => None,
            Some(g) => Some(
                g.parse::<Gender>()
                    .map_err(|_| format!("field `gender` must be female or male, found {g:?}"))?,
            ),
        }),
    };
    let birth_year = match e.birth_year {
        Some(Some(y)) if !(1890..=this_year).contains(&y) => {
            return Err(format!(
                "field `birth_year` must be 1890 to {this_year}, found {y}"
            ));
        }
        other => other,
    };
    let phone = match e.phone {
        None => None,
        Some(p) => Some(match blank(p) {
            None => None,
            Some(p) => {
                Some(personal::normalise_phone(&p).map_err(|m| format!("field `phone` {m}"))?)
            }
        }),
    };
    let id_number = match e.id_number {
        None => None,
        Some(id) => Some(match blank(id) {
            None => None,
            Some(id) => {
                let id = personal::normalise_id_number(&id)
                    .map_err(|m| format!("field `id_number` {m}"))?;
                let hash = hasher.hash(&id);
                Some((id, hash))
            }
        }),
    };
    for tag in e.tags_add.iter().chain(&e.tags_remove) {
        if !care::is_tag_code(tag) {
            return Err(format!("care tag {tag:?} is not a tag code"));
        }
    }
    Ok(ResidentEdit {
        pid: e.pid,
        name,
        gender,
        birth_year,
        phone,
        id_number,
        tags_add: e.tags_add,
        tags_remove: e.tags_remove,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(json: &str) -> Result<ResidentEdit, String> {
        let e: EditIn = serde_json::from_str(json).expect("json");
        validate(e, &IdHasher::new(vec![7; 32]), 2026)
    }

    #[test]
    fn edits_are_normalised_and_bad_fields_named() {
        let pid = "11111111-2222-4333-8444-555555555555";
        let e = edit(&format!(
            r#"{{"pid":"{pid}","name":" 王秀英 ","phone":"+86 138-1234-5678","id_number":"11010519491231002x","gender":null}}"#
        ))
        .expect("valid");
        assert_eq!(e.name.as_deref(), Some("王秀英"));
        assert_eq!(e.phone, Some(Some("13812345678".to_owned())));
        assert_eq!(e.gender, Some(None));
        assert_eq!(e.birth_year, None, "left out: unchanged");
        let (clear, hash) = e.id_number.flatten().expect("id");
        assert_eq!(clear, "11010519491231002X");
        assert_eq!(hash, IdHasher::new(vec![7; 32]).hash("11010519491231002X"));
        assert_ne!(hash, IdHasher::new(vec![8; 32]).hash("11010519491231002X"));
        let bad = edit(&format!(
            r#"{{"pid":"{pid}","id_number":"110105194912310021"}}"#
        ));
        assert!(bad.expect_err("bad check digit").contains("id_number"));
        let bad = edit(&format!(r#"{{"pid":"{pid}","birth_year":2031}}"#));
        assert!(bad.expect_err("future").contains("birth_year"));
        assert!(edit(r#"{"pid":"x"}"#).expect_err("pid").contains("pid"));
    }

    #[test]
    fn views_mask_by_role() {
        let row = ResidentRow {
            pid: "p".into(),
            household: "h".into(),
            grid: "/g".into(),
            sector: None,
            relation: "head".into(),
            status: "living".into(),
            name: Some("王秀英".into()),
            gender: None,
            birth_year: Some(1941),
            phone: Some("13812345678".into()),
            id_number: Some("11010519491231002X".into()),
            id_hash: Some(vec![1, 2]),
            tags: vec![],
            erased: false,
            interval_days: None,
            last_visit_at: None,
            due_at: None,
        };
        let leader = ResidentView::of(row.clone(), Role::Leader, true);
        assert_eq!(leader.phone.as_deref(), Some("13812345678"));
        assert_eq!(
            leader.id_number_masked.as_deref(),
            Some("1101**********002X")
        );
        let json = serde_json::to_string(&leader).expect("json");
        assert!(!json.contains("11010519491231002X"), "{json}");
        let console = ResidentView::of(row, Role::CommunitySupervisor, false);
        assert_eq!((console.name, console.phone), (None, None));
        assert_eq!(console.name_masked, "王*英");
    }
}
