//! Enums whose names travel: on the wire, in the database, in messages. Each variant's
//! spelling is written once, next to it, and `ALL`, `as_str`, `Display`, `FromStr` and the
//! list of names for error messages come from that.

/// Generates `ALL`, `as_str`, `Display`, `FromStr` and the list of names for error messages,
/// for a fieldless enum whose wire spelling is given next to each variant, so that the
/// spelling is written exactly once.
macro_rules! named_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::names::NamedEnum for $name {
            fn names() -> String {
                $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::names::UnknownName(s.to_owned()))
            }
        }
    };
}

pub(crate) use named_enum;

/// Lets an error message list an enum's allowed spellings.
pub trait NamedEnum {
    fn names() -> String;
}

/// A spelling that names no variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);
