//! Readying a (database, collection) for a model before its first write: the schema's `$jsonSchema`
//! validator, when asked for, and its indexes.

use bson::doc;

use crate::engine::Namespace;
use crate::error::Error;
use crate::schema::Schema;

/// MongoDB's NamespaceNotFound: collMod on a collection that does not exist yet.
const NAMESPACE_NOT_FOUND: i32 = 26;

pub async fn set_up(ns: &Namespace, schema: &Schema, json_schema: bool) -> Result<(), Error> {
    let indexes = schema.indexes()?;
    if json_schema {
        apply_validator(ns, schema).await?;
    }
    if !indexes.is_empty() {
        ns.collection().await?.create_indexes(indexes).await?;
    }
    Ok(())
}

async fn apply_validator(ns: &Namespace, schema: &Schema) -> Result<(), Error> {
    let db = ns.database().await?;
    let validator = schema.json_schema();
    let modified = db.run_command(doc! { "collMod": ns.coll.as_str(), "validator": validator.clone() }).await;
    match modified {
        Err(e) if is_namespace_not_found(&e) => Ok(db.create_collection(ns.coll.as_str()).validator(validator).await?),
        other => Ok(other.map(drop)?),
    }
}

fn is_namespace_not_found(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == NAMESPACE_NOT_FOUND)
}
