//! Sans-IO core of Haitang: the record document model, schema and change validation, pull
//! planning, the scope rule and the wire types. Nothing here touches a socket, a file or a
//! clock; the server and the tests drive it.

pub mod care;
pub mod catalogue;
pub mod doctype;
#[cfg(test)]
mod generated;
pub mod household;
pub mod ingest;
pub mod names;
pub mod ops;
pub mod personal;
pub mod protocol;
pub mod pull;
pub mod record;
pub mod rules;
pub mod scope;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod workflow;
