//! The care plan (关爱帮扶): which residents must be visited how often, and when each is due.
//!
//! A care tag on a person (独居老人, 低保户, …) comes from [`TAGS`], the catalogue the server
//! serves and a district may extend; each tag may carry a default visit interval. A
//! person's interval is the one a supervisor set on them, else the one set on their
//! household, else the shortest of their tags' defaults; a person with none is not on a
//! visit schedule. The next visit is due one interval after the last visit that saw them
//! (or after they were registered, if never visited). Overdue, due and due soon are derived
//! from that date when read, never stored.

use serde::{Deserialize, Serialize};

use crate::names::named_enum;

/// A care tag of the catalogue's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CareTag {
    /// Lower-case ASCII; permanent (it is stored in residents' rows and imports name it).
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// How often a person with this tag is visited by default, in days.
    pub interval_days: Option<u32>,
}

const fn tag(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    interval_days: Option<u32>,
) -> CareTag {
    CareTag {
        code,
        name_zh,
        name_en,
        interval_days,
    }
}

/// The seed of the care-tag catalogue. Intervals follow what Suzhou's communities practise:
/// a weekly look-in on elderly people living alone and on those under special watch,
/// fortnightly for the very old and the extremely poor, monthly for the rest.
#[rustfmt::skip]
pub const TAGS: &[CareTag] = &[
    tag("living_alone", "独居老人", "Elderly, living alone", Some(7)),
    tag("empty_nest", "空巢老人", "Elderly, children away", Some(14)),
    tag("very_old", "高龄老人", "Aged 80 or over", Some(14)),
    tag("disabled", "残疾人", "Person with a disability", Some(30)),
    tag("low_income", "低保户", "Minimum living allowance (低保)", Some(30)),
    tag("extreme_poverty", "特困人员", "Extreme poverty support (特困)", Some(14)),
    tag("left_behind_child", "留守儿童", "Child left behind", Some(30)),
    tag("special_watch", "重点关注", "Under special watch", Some(7)),
    tag("veteran", "退役军人", "Veteran", None),
];

/// The tag with this code, if the seed has it.
pub fn find(code: &str) -> Option<&'static CareTag> {
    TAGS.iter().find(|t| t.code == code)
}

/// Whether `s` has the shape of a tag code: 1 to 64 of `a-z 0-9 _`.
pub fn is_tag_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Longest interval a supervisor may set, in days (a year).
pub const MAX_INTERVAL_DAYS: i64 = 366;
/// A visit due within this many days is "due soon".
pub const SOON_DAYS: i64 = 7;
pub const DAY_MS: i64 = 86_400_000;

/// A person's visit interval in days, or `None` if they are on no schedule.
/// `tag_days` are the catalogue intervals of the person's tags.
pub fn interval_days(
    person: Option<i64>,
    household: Option<i64>,
    tag_days: impl IntoIterator<Item = Option<u32>>,
) -> Option<i64> {
    person
        .or(household)
        .or_else(|| tag_days.into_iter().flatten().min().map(i64::from))
}

/// When the next visit is due, ms since the epoch: an interval after the last visit, or
/// after `since` (when the person was registered) if never visited.
pub fn due_at(interval_days: i64, last_visit: Option<i64>, since: i64) -> i64 {
    last_visit.unwrap_or(since) + interval_days * DAY_MS
}

/// Where a visit stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueState {
    /// Past its due date.
    Overdue,
    /// Due within a day.
    Due,
    /// Due within [`SOON_DAYS`].
    Soon,
    /// Further off.
    Later,
}
named_enum!(DueState { Overdue => "overdue", Due => "due", Soon => "soon", Later => "later" });

pub fn due_state(due_at: i64, now: i64) -> DueState {
    if due_at < now {
        DueState::Overdue
    } else if due_at < now + DAY_MS {
        DueState::Due
    } else if due_at < now + SOON_DAYS * DAY_MS {
        DueState::Soon
    } else {
        DueState::Later
    }
}

/// One question of the visit checklist (走访记录表), answered by choosing one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Lower-case ASCII; permanent (stored as a key of a visit's `checks`).
    pub code: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    pub options: &'static [Answer],
}

/// An option of a [`Check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub code: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// The answer calls for follow-up: the app offers to raise a need from the visit.
    pub concern: bool,
}

const fn answer(
    code: &'static str,
    label_zh: &'static str,
    label_en: &'static str,
    concern: bool,
) -> Answer {
    Answer {
        code,
        label_zh,
        label_en,
        concern,
    }
}

/// The checklist of a household visit: what a leader looks at in every home, coarse on
/// purpose. The answers are written into the visit record (`checks`), so they are choices
/// about the visit, never free text and never a diagnosis: the people it saw are named only
/// by pid, and once a person's row is erased nothing in the answers points back at them.
#[rustfmt::skip]
pub const VISIT_CHECKS: &[Check] = &[
    Check { code: "wellbeing", label_zh: "身体与精神状况", label_en: "Health and spirits", options: &[
        answer("good", "良好", "Good", false),
        answer("fair", "一般", "Fair", false),
        answer("poor", "较差，需要关注", "Poor, needs attention", true),
    ] },
    Check { code: "home", label_zh: "居住环境", label_en: "Living conditions", options: &[
        answer("tidy", "整洁", "Tidy", false),
        answer("needs_help", "需要帮助打理", "Needs help keeping up", true),
    ] },
    Check { code: "safety", label_zh: "安全隐患（燃气、用电、消防）", label_en: "Safety hazards (gas, power, fire)", options: &[
        answer("none", "未发现", "None found", false),
        answer("found", "发现隐患", "Hazard found", true),
    ] },
    Check { code: "needs", label_zh: "有无诉求", label_en: "Any needs", options: &[
        answer("none", "没有", "None", false),
        answer("some", "有诉求", "Has a need", true),
    ] },
];

/// Whether `answer` is an option of the check `code`; the problem in words if not.
pub fn check_answer(code: &str, answer: &str) -> Result<&'static Answer, String> {
    let check = VISIT_CHECKS
        .iter()
        .find(|c| c.code == code)
        .ok_or_else(|| format!("names no question of the visit checklist: {code:?}"))?;
    check
        .options
        .iter()
        .find(|o| o.code == answer)
        .ok_or_else(|| format!("{answer:?} is not an answer to {code:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tags_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for t in TAGS {
            assert!(seen.insert(t.code), "{}", t.code);
            assert!(is_tag_code(t.code), "{}", t.code);
            assert!(!t.name_zh.is_empty() && !t.name_en.is_empty());
        }
    }

    #[test]
    fn the_plan_takes_the_persons_then_the_households_then_the_shortest_tag() {
        assert_eq!(interval_days(Some(3), Some(10), [Some(7)]), Some(3));
        assert_eq!(interval_days(None, Some(10), [Some(7)]), Some(10));
        assert_eq!(
            interval_days(None, None, [Some(30), None, Some(7)]),
            Some(7)
        );
        assert_eq!(interval_days(None, None, [None]), None);
        assert_eq!(due_at(7, Some(1_000), 0), 1_000 + 7 * DAY_MS);
        assert_eq!(due_at(7, None, 5), 5 + 7 * DAY_MS);
        let now = 100 * DAY_MS;
        assert_eq!(due_state(now - 1, now), DueState::Overdue);
        assert_eq!(due_state(now, now), DueState::Due);
        assert_eq!(due_state(now + 2 * DAY_MS, now), DueState::Soon);
        assert_eq!(due_state(now + 7 * DAY_MS, now), DueState::Later);
    }

    #[test]
    fn the_checklist_has_unique_codes_and_takes_only_its_own_answers() {
        let mut seen = std::collections::HashSet::new();
        for c in VISIT_CHECKS {
            assert!(seen.insert(c.code) && is_tag_code(c.code), "{}", c.code);
            let mut options = std::collections::HashSet::new();
            assert!(
                c.options.iter().all(|o| options.insert(o.code)),
                "{}",
                c.code
            );
        }
        assert!(check_answer("wellbeing", "poor").is_ok_and(|a| a.concern));
        assert!(check_answer("wellbeing", "tidy").is_err());
        assert!(check_answer("diagnosis", "good").is_err());
    }
}
