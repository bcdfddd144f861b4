//! Operations on a namespace. Requests arrive as BSON documents shaped like Mongoose's arguments
//! (`{ filter, options }`, `{ ops: [{ updateOne: {...} }] }`, ...) and are decoded here with serde.

pub mod cursor;
pub mod options;
pub mod prepare;
pub mod read;
pub mod setup;
pub mod write;

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Decodes a request document, naming what was wrong with it.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    bson::deserialize_from_slice(bytes).map_err(|e| Error::InvalidArgument(format!("invalid {what}: {e}")))
}
