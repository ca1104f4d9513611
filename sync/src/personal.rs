//! Residents' personal information (个人信息, PIPL): what it is, who may see which part in
//! clear, and how it is shown masked. The rule is written once here; the server applies it
//! to every response and the PWA gets it generated (`pwa/src/generated/protocol.mjs`).
//!
//! None of it is ever written into an Automerge document: a CRDT keeps every value it ever
//! held, so a name or an ID number written there could never be corrected or erased. A
//! household document names its people by an opaque id (`pid`) and holds only facts that
//! are not personal (relation, whether they still live there, a visit interval); the
//! personal fields live in replaceable rows (the server's `residents`, the phone's cache).

use serde::{Deserialize, Serialize};

use crate::names::named_enum;
use crate::scope::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Female,
    Male,
}
named_enum!(Gender { Female => "female", Male => "male" });

/// Whether a person still lives in the household. Moving out and death are statuses: a
/// person is never removed from a household's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidentStatus {
    Living,
    MovedOut,
    Deceased,
}
named_enum!(ResidentStatus { Living => "living", MovedOut => "moved_out", Deceased => "deceased" });

/// Relation to the head of household (与户主关系), as household registers record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Head,
    Spouse,
    Child,
    Parent,
    Grandchild,
    Sibling,
    Tenant,
    Other,
}
named_enum!(Relation {
    Head => "head",
    Spouse => "spouse",
    Child => "child",
    Parent => "parent",
    Grandchild => "grandchild",
    Sibling => "sibling",
    Tenant => "tenant",
    Other => "other",
});

/// The personal fields a role may ask to see in clear (查看明文).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonalField {
    /// The full name. Lists show it masked (`王*英`).
    Name,
    /// The phone number (`138****5678` until revealed); calling it is a reveal too.
    Phone,
    /// The resident ID number (身份证号, `3205**********1234` until revealed).
    IdNumber,
}
named_enum!(PersonalField { Name => "name", Phone => "phone", IdNumber => "id_number" });

/// Whether `role` may see `field` in clear, after giving a reason (every reveal is logged).
/// Department handlers work on dispatched cases, not on residents, and see nobody's. Field
/// roles know their residents and call them, but an ID number is needed only for the
/// supervisors' verification work (低保 reviews, population checks), so it never reaches a
/// field phone in clear.
pub fn may_reveal(role: Role, field: PersonalField) -> bool {
    match role {
        Role::DepartmentHandler => false,
        Role::Leader | Role::GridStaff => field != PersonalField::IdNumber,
        Role::CommunitySupervisor
        | Role::WorkstationSupervisor
        | Role::StreetSupervisor
        | Role::DistrictAdmin => true,
    }
}

/// Whether `role` may see residents at all (the list, masked).
pub fn may_see_residents(role: Role) -> bool {
    role != Role::DepartmentHandler
}

/// Whether `role` may change a visit interval (the care plan), which sets how often the
/// field must go: a supervisor's decision, not the visitor's.
pub fn may_set_interval(role: Role) -> bool {
    !role.is_field() && role != Role::DepartmentHandler
}

/// Whether a field phone keeps `field` in clear in its replaceable cache, shown masked
/// until its user reveals it (offline, logged on the phone and uploaded at the next sync):
/// a leader calls residents from lanes without signal. ID numbers never.
pub fn phone_keeps_clear(role: Role, field: PersonalField) -> bool {
    role.is_field() && may_reveal(role, field)
}

/// `13812345678` → `138****5678`; anything shorter than 7 digits keeps only its last two.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n >= 7 {
        let keep_end = 4;
        let keep_start = 3;
        let mut s: String = chars[..keep_start].iter().collect();
        s.push_str(&"*".repeat(n - keep_start - keep_end));
        s.extend(&chars[n - keep_end..]);
        s
    } else {
        let keep = n.min(2);
        let mut s = "*".repeat(n - keep);
        s.extend(&chars[n - keep..]);
        s
    }
}

/// `320502195003121234` → `3205**********1234`.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let n = chars.len();
    if n <= 8 {
        return "*".repeat(n);
    }
    let mut s: String = chars[..4].iter().collect();
    s.push_str(&"*".repeat(n - 8));
    s.extend(&chars[n - 4..]);
    s
}

/// A name as lists show it: `王秀英` → `王*英`, `王英` → `王*`, `欧阳建国` → `欧**国`.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_owned(),
        2 => format!("{}*", chars[0]),
        n => {
            let mut s = String::new();
            s.push(chars[0]);
            s.push_str(&"*".repeat(n - 2));
            s.push(chars[n - 1]);
            s
        }
    }
}

/// The check digit (GB 11643: ISO 7064 MOD 11-2) of an ID number's first 17 digits,
/// which must be ASCII digits.
pub fn id_check_digit(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// A mainland resident ID number (GB 11643): 17 digits and a check character (a digit or
/// `X`), the check computed from the others. Lower-case `x` is taken as `X`.
pub fn normalise_id_number(id: &str) -> Result<String, String> {
    let id = id.trim().to_uppercase();
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return Err("must be 18 characters: 17 digits and a check digit or X".to_owned());
    }
    let want = id_check_digit(&b[..17]);
    if b[17] != want {
        return Err(format!(
            "check digit is {}, but the first 17 digits give {}",
            b[17] as char, want as char
        ));
    }
    Ok(id)
}

/// A phone number as people write it: digits, with spaces, `-` or a leading `+86` allowed
/// and dropped. Mobile numbers have 11 digits starting with 1; landlines 7 to 12.
pub fn normalise_phone(phone: &str) -> Result<String, String> {
    let t = phone.trim();
    let t = t.strip_prefix("+86").unwrap_or(t);
    let digits: String = t.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("may hold only digits, spaces and -".to_owned());
    }
    let ok = if digits.starts_with('1') {
        digits.len() == 11
    } else {
        (7..=12).contains(&digits.len())
    };
    if ok {
        Ok(digits)
    } else {
        Err("must be an 11-digit mobile number or a landline of 7 to 12 digits".to_owned())
    }
}

/// Longest name, in Unicode code points.
pub const MAX_NAME_CHARS: usize = 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_follow_the_field_norm() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("65123456"), "651*3456");
        assert_eq!(mask_phone("12"), "12");
        assert_eq!(mask_id_number("320502195003121234"), "3205**********1234");
        assert_eq!(mask_name("王秀英"), "王*英");
        assert_eq!(mask_name("王英"), "王*");
        assert_eq!(mask_name("欧阳建国"), "欧**国");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn id_numbers_are_checked_by_their_check_digit() {
        // GB 11643's own example.
        assert_eq!(
            normalise_id_number("11010519491231002x"),
            Ok("11010519491231002X".to_owned())
        );
        assert!(normalise_id_number("110105194912310021").is_err());
        assert!(normalise_id_number("1101051949123100").is_err());
        assert!(normalise_id_number("11010519491231002Y").is_err());
    }

    #[test]
    fn phones_are_normalised() {
        assert_eq!(
            normalise_phone("+86 138-1234-5678"),
            Ok("13812345678".into())
        );
        assert_eq!(normalise_phone("0512-6512 3456"), Ok("051265123456".into()));
        assert!(normalise_phone("1381234567").is_err());
        assert!(normalise_phone("138abc45678").is_err());
    }

    #[test]
    fn id_numbers_stay_off_field_phones_and_handlers_see_nobody() {
        for role in Role::ALL {
            assert!(!phone_keeps_clear(*role, PersonalField::IdNumber));
            if role.is_field() {
                assert!(!may_reveal(*role, PersonalField::IdNumber));
                assert!(may_reveal(*role, PersonalField::Phone));
            }
        }
        assert!(!may_see_residents(Role::DepartmentHandler));
        assert!(!may_reveal(Role::DepartmentHandler, PersonalField::Name));
        assert!(may_reveal(
            Role::CommunitySupervisor,
            PersonalField::IdNumber
        ));
        assert!(!may_set_interval(Role::Leader) && may_set_interval(Role::CommunitySupervisor));
    }
}
