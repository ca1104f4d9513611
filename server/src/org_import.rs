//! Reading org-tree files for `haitang org import` and `POST /api/v1/admin/org/import`.
//!
//! Both formats carry the same rows: `kind`, `path`, `name`.
//! - kind `district`, `street`, `workstation`, `community`, `grid`: a unit at `path`;
//! - kind `building`, `lane`, `courtyard`: a sector (a leader's patch) at `path`, under a grid;
//! - kind `department`: a department whose key is `<unit path>:<code>`, e.g. `/gusu:police`.
//!
//! JSON is an array of `{kind, path, name}` objects; CSV has the header `kind,path,name`.
//! Every row keeps the line it came from so errors can point at it.

use haitang_sync::scope::{UnitKind, is_valid_path};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectorKind {
    Building,
    Lane,
    Courtyard,
}

impl SectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SectorKind::Building => "building",
            SectorKind::Lane => "lane",
            SectorKind::Courtyard => "courtyard",
        }
    }
    pub fn parse(s: &str) -> Option<SectorKind> {
        match s {
            "building" => Some(SectorKind::Building),
            "lane" => Some(SectorKind::Lane),
            "courtyard" => Some(SectorKind::Courtyard),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    Unit(UnitKind, Option<SectorKind>),
    Department,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRow {
    pub line: usize,
    pub kind: RowKind,
    /// A unit path, or for a department its key `<unit path>:<code>`.
    pub path: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Format {
    /// Guesses the format from a file name, falling back to the first non-blank character.
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".json") {
            Format::Json
        } else if lower.ends_with(".csv") {
            Format::Csv
        } else if text.trim_start().starts_with('[') {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// Parses a whole file. Either every row is good, or the errors of every bad row come back.
pub fn parse(format: Format, text: &str) -> Result<Vec<OrgRow>, Vec<RowError>> {
    match format {
        Format::Json => parse_json(text),
        Format::Csv => parse_csv(text),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonRow {
    kind: String,
    path: String,
    name: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_json(text: &str) -> Result<Vec<OrgRow>, Vec<RowError>> {
    // Borrowed raw values are slices of `text`, so their offsets give each row's line.
    let raws: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| {
        vec![RowError {
            line: e.line(),
            message: format!("not a JSON array of rows: {e}"),
        }]
    })?;
    let mut rows = Vec::with_capacity(raws.len());
    let mut errors = Vec::new();
    for raw in raws {
        let offset = raw.get().as_ptr() as usize - text.as_ptr() as usize;
        let line = line_of(text, offset);
        match serde_json::from_str::<JsonRow>(raw.get()) {
            Ok(r) => match check_row(line, &r.kind, &r.path, &r.name) {
                Ok(row) => rows.push(row),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(RowError {
                line,
                message: format!("a row needs exactly `kind`, `path` and `name` as strings: {e}"),
            }),
        }
    }
    finish(rows, errors)
}

fn parse_csv(text: &str) -> Result<Vec<OrgRow>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| {
        vec![RowError {
            line: 1,
            message: format!("cannot read the header: {e}"),
        }]
    })?;
    let want = ["kind", "path", "name"];
    if headers.iter().collect::<Vec<_>>() != want {
        return Err(vec![RowError {
            line: 1,
            message: format!(
                "the header must be `kind,path,name`, found `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        }]);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                match check_row(line, &rec[0], &rec[1], &rec[2]) {
                    Ok(row) => rows.push(row),
                    Err(e) => errors.push(e),
                }
            }
            Err(e) => errors.push(RowError {
                line: e.position().map_or(0, |p| p.line() as usize),
                message: format!("bad CSV row: {e}"),
            }),
        }
    }
    finish(rows, errors)
}

fn finish(rows: Vec<OrgRow>, mut errors: Vec<RowError>) -> Result<Vec<OrgRow>, Vec<RowError>> {
    let mut seen = std::collections::HashMap::new();
    for row in &rows {
        if let Some(first) = seen.insert(row.path.as_str(), row.line) {
            errors.push(RowError {
                line: row.line,
                message: format!("`{}` is already defined on line {first}", row.path),
            });
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

fn check_row(line: usize, kind: &str, path: &str, name: &str) -> Result<OrgRow, RowError> {
    let err = |message: String| RowError { line, message };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(err("`name` must be 1 to 100 characters".into()));
    }
    let kind = if kind == "department" {
        let Some((unit, code)) = path.split_once(':') else {
            return Err(err(format!(
                "a department's path is `<unit path>:<code>`, e.g. `/gusu:police`; found `{path}`"
            )));
        };
        if !is_valid_path(unit) || !is_valid_path(&format!("/{code}")) || code.contains('/') {
            return Err(err(format!(
                "`{path}` is not `<unit path>:<code>` with lower-case letters, digits, `_` or `-`"
            )));
        }
        RowKind::Department
    } else if let Some(sector) = SectorKind::parse(kind) {
        RowKind::Unit(UnitKind::Sector, Some(sector))
    } else {
        match kind.parse::<UnitKind>() {
            Ok(UnitKind::Sector) | Err(_) => {
                return Err(err(format!(
                    "unknown kind `{kind}`; use district, street, workstation, community, grid, building, lane, courtyard or department"
                )));
            }
            Ok(k) => RowKind::Unit(k, None),
        }
    };
    if let RowKind::Unit(unit_kind, _) = kind {
        if !is_valid_path(path) {
            return Err(err(format!(
                "`{path}` is not a path like `/gusu/byw`: `/`-separated lower-case letters, digits, `_` or `-`"
            )));
        }
        let depth = path.matches('/').count();
        let want = UnitKind::ALL
            .iter()
            .position(|k| *k == unit_kind)
            .map_or(0, |i| i + 1);
        if depth != want {
            return Err(err(format!(
                "a {unit_kind} sits at depth {want} of the tree, but `{path}` has depth {depth}"
            )));
        }
    }
    Ok(OrgRow {
        line,
        kind,
        path: path.to_owned(),
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_rows_carry_their_lines() {
        let text = r#"[
  {"kind": "district", "path": "/gusu", "name": "姑苏区"},
  {"kind": "street", "path": "/gusu/byw", "name": "白洋湾街道"},
  {"kind": "department", "path": "/gusu:police", "name": "公安"}
]"#;
        let rows = parse(Format::Json, text).expect("good file");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].line, 3);
        assert_eq!(rows[2].kind, RowKind::Department);
    }

    #[test]
    fn json_bad_rows_are_reported_by_line() {
        let text = "[\n{\"kind\": \"district\", \"path\": \"/gusu\", \"name\": \"姑苏区\"},\n{\"kind\": \"street\", \"path\": \"/gusu/BYW\", \"name\": \"x\"},\n{\"kind\": \"grid\", \"path\": \"/gusu\", \"name\": \"x\", \"extra\": 1}\n]";
        let errors = parse(Format::Json, text).expect_err("bad file");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }

    #[test]
    fn csv_rows_and_errors() {
        let text = "kind,path,name\ndistrict,/gusu,姑苏区\nbuilding,/gusu/a/b/c/d/e,3号楼\nlane,/gusu/a,巷\nmoon,/gusu/x,?\n";
        let errors = parse(Format::Csv, text).expect_err("two bad rows");
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert!(errors[1].message.contains("unknown kind"));
        let good = "kind,path,name\ndistrict,/gusu,姑苏区\nbuilding,/gusu/a/b/c/d/e,3号楼\n";
        let rows = parse(Format::Csv, good).expect("good");
        assert_eq!(
            rows[1].kind,
            RowKind::Unit(UnitKind::Sector, Some(SectorKind::Building))
        );
    }

    #[test]
    fn csv_header_and_duplicates() {
        assert!(parse(Format::Csv, "path,kind,name\n").is_err());
        let dup = "kind,path,name\ndistrict,/gusu,姑苏区\ndistrict,/gusu,again\n";
        let errors = parse(Format::Csv, dup).expect_err("duplicate");
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn detect_format() {
        assert_eq!(Format::detect("org.JSON", ""), Format::Json);
        assert_eq!(Format::detect("org.csv", "[x"), Format::Csv);
        assert_eq!(Format::detect("-", "  [\n"), Format::Json);
    }
}
