//! `netstat --json` output against the documented schema, `docs/netstat.schema.json`.
//!
//! [`Schema::load`] compiles the schema once (after checking it against the JSON Schema
//! 2020-12 meta-schema); [`Schema::records`] checks a whole stdout: valid UTF-8, one JSON
//! object per line, each valid against the schema. Any test that runs `--json`
//! (`--watch`, `--audit` too) can use it:
//!
//! ```no_run
//! let schema = netstat_tests::json::Schema::load();
//! let records = schema.records(b"{\"type\":\"lost\",\"ts_ns\":1,\"lost\":2,\"reason\":\"ring_full\"}\n")
//!     .unwrap_or_else(|e| panic!("{e}"));
//! assert_eq!(records[0]["type"], "lost");
//! ```
use std::path::PathBuf;

use serde_json::Value;

use crate::workspace_root;

/// Where the schema lives.
pub fn schema_path() -> PathBuf {
    workspace_root().join("docs/netstat.schema.json")
}

/// The compiled schema.
pub struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Reads, checks and compiles `docs/netstat.schema.json`; panics with the reason when
    /// it is missing or not a valid 2020-12 schema (a broken schema must fail the tests).
    pub fn load() -> Schema {
        let path = schema_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Schema::from_value(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Compiles a schema value (checked against the draft 2020-12 meta-schema first).
    pub fn from_value(schema: &Value) -> Result<Schema, String> {
        jsonschema::meta::validate(schema)
            .map_err(|e| format!("not a valid JSON Schema: {e} at {}", e.instance_path()))?;
        let validator = jsonschema::draft202012::new(schema)
            .map_err(|e| format!("cannot compile the schema: {e}"))?;
        Ok(Schema { validator })
    }

    /// Checks one record: `Err` lists every violation with where it is.
    pub fn check(&self, record: &Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(record)
            .map(|e| format!("{e} (at {:?})", e.instance_path().to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Parses and checks a whole `--json` stdout: UTF-8, newline-terminated lines, each
    /// one JSON object valid against the schema. Returns the records in order, or what is
    /// wrong with the first bad line (with the line).
    pub fn records(&self, stdout: &[u8]) -> Result<Vec<Value>, String> {
        let text = std::str::from_utf8(stdout).map_err(|e| format!("stdout is not UTF-8: {e}"))?;
        if !text.is_empty() && !text.ends_with('\n') {
            return Err(format!("stdout does not end with a newline: {text:?}"));
        }
        text.lines()
            .enumerate()
            .map(|(n, line)| {
                let value: Value = serde_json::from_str(line)
                    .map_err(|e| format!("line {}: not JSON ({e}): {line}", n + 1))?;
                self.check(&value)
                    .map_err(|e| format!("line {}: {e}\n  {line}", n + 1))?;
                Ok(value)
            })
            .collect()
    }

    /// [`Schema::records`], panicking with the reason.
    pub fn valid_records(&self, stdout: &[u8]) -> Vec<Value> {
        self.records(stdout)
            .unwrap_or_else(|e| panic!("--json output does not follow the schema: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_compiles() {
        let s = Schema::load();
        assert!(s.records(b"").is_ok_and(|r| r.is_empty()));
        assert!(s.records(b"{}").is_err());
        assert!(s.records(b"\xff\n").is_err());
        assert!(s.records(b"[]\n").is_err());
    }
}
