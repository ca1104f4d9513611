//! Reading a community's household register (户籍台账) for `haitang household import` and
//! `POST /api/v1/admin/households/import`: an Excel workbook (.xlsx, its first sheet) or a
//! CSV, in UTF-8 (with or without a BOM) or GBK as Excel on a Chinese Windows saves it,
//! one row per person, grouped into households by
//! the household number within a grid. Headers may be Chinese or English:
//!
//! | column | also | required |
//! |---|---|---|
//! | 户号 | household_no | yes |
//! | 网格 | grid | yes: a grid's path or name |
//! | 片区 | sector | no: a sector's path or name under the grid |
//! | 地址 | address | yes |
//! | 姓名 | name | yes |
//! | 性别 | gender | no: 男 / 女 / male / female |
//! | 出生年份 | birth_year | no |
//! | 与户主关系 | relation | yes: 户主, 配偶, 子女, 父母, 孙辈, 兄弟姐妹, 租户, 其他 |
//! | 联系电话 | phone | no |
//! | 身份证号 | id_number | no |
//! | 关爱标签 | tags | no: names or codes, separated by 、 , ; or spaces |
//! | 状态 | status | no: 在住 / 迁出 / 去世 (default 在住) |
//!
//! Every row keeps its line, so that errors point at it; nothing is imported while any row
//! is wrong.

use haitang_sync::personal::{Gender, Relation, ResidentStatus};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// One person's row as written, the cells trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub line: usize,
    pub household_no: String,
    pub grid: String,
    pub sector: Option<String>,
    pub address: String,
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_year: Option<i64>,
    pub relation: Relation,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    /// As written; the importer maps them to the catalogue's codes.
    pub tags: Vec<String>,
    pub status: ResidentStatus,
}

/// A register as CSV text, and the line of the file its header was on (1 but in a
/// workbook with a title above the header), so that errors name the line the user sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Register {
    pub text: String,
    pub header_line: usize,
}

/// The file as CSV text: an .xlsx workbook's first sheet (told by its ZIP signature), or
/// the text of a CSV, UTF-8 if it is that (a BOM dropped), else GBK, else an error. A
/// sheet's row `n` is the CSV's record `n`, so errors name the row Excel shows.
pub fn decode(bytes: &[u8]) -> Result<Register, RowError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return xlsx_to_csv(bytes);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let csv = |text: String| Register {
        text,
        header_line: 1,
    };
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(csv(s.to_owned()));
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|s| csv(s.into_owned()))
        .ok_or(RowError {
            line: 1,
            message: "the file is neither UTF-8 nor GBK text; save it from Excel as CSV".to_owned(),
        })
}

fn xlsx_to_csv(bytes: &[u8]) -> Result<Register, RowError> {
    use calamine::{Data, Reader, Xlsx};
    let bad = |message: String| RowError { line: 1, message };
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).map_err(|e| {
        bad(format!(
            "the file does not open as an Excel workbook (.xlsx): {e}"
        ))
    })?;
    let sheet = book
        .worksheet_range_at(0)
        .ok_or_else(|| bad("the workbook has no sheet".to_owned()))?
        .map_err(|e| bad(format!("the first sheet does not read: {e}")))?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut cells = Vec::new();
    // A register often has a title row (and blank rows) above its header: reading starts
    // at the row that names the first column, and lines count from the sheet's top.
    let top = sheet.start().map_or(0, |(row, _)| row as usize);
    let (first, second) = (COLUMNS[0].0, COLUMNS[0].1);
    let header_at = sheet
        .rows()
        .position(|row| {
            row.iter()
                .any(|c| matches!(c, Data::String(s) if s.trim() == first || s.trim() == second))
        })
        .unwrap_or(0);
    for row in sheet.rows().skip(header_at) {
        cells.clear();
        cells.extend(row.iter().map(|cell| match cell {
            Data::Empty => String::new(),
            Data::String(s) => s.clone(),
            // A year or a phone number typed as a number: whole numbers print without
            // ".0"; an ID number typed as a number has already lost digits in Excel and
            // fails its check digit, naming the row.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Int(i) => i.to_string(),
            Data::Bool(b) => b.to_string(),
            other => other.to_string(),
        }));
        out.write_record(&cells).map_err(|e| bad(e.to_string()))?;
    }
    let bytes = out.into_inner().map_err(|e| bad(e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
    Ok(Register {
        text,
        header_line: top + header_at + 1,
    })
}

const COLUMNS: &[(&str, &str, bool)] = &[
    ("户号", "household_no", true),
    ("网格", "grid", true),
    ("片区", "sector", false),
    ("地址", "address", true),
    ("姓名", "name", true),
    ("性别", "gender", false),
    ("出生年份", "birth_year", false),
    ("与户主关系", "relation", true),
    ("联系电话", "phone", false),
    ("身份证号", "id_number", false),
    ("关爱标签", "tags", false),
    ("状态", "status", false),
];

/// A table as CSV in UTF-8 with a BOM (Excel opens a UTF-8 CSV right only with one).
pub fn write_csv(table: &[Vec<String>]) -> Result<Vec<u8>, String> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    for row in table {
        out.write_record(row).map_err(|e| e.to_string())?;
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// A table as an .xlsx workbook of one sheet. Every cell is text: a phone or ID number
/// written as a number would lose its leading zero or its last digits in Excel.
pub fn write_xlsx(table: &[Vec<String>]) -> Result<Vec<u8>, String> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("住户名册").map_err(|e| e.to_string())?;
    for (r, row) in table.iter().enumerate() {
        let r = u32::try_from(r).map_err(|e| e.to_string())?;
        for (c, cell) in row.iter().enumerate() {
            let c = u16::try_from(c).map_err(|e| e.to_string())?;
            sheet.write_string(r, c, cell).map_err(|e| e.to_string())?;
        }
    }
    book.save_to_buffer().map_err(|e| e.to_string())
}

/// Header of an export, in the order the import reads: what a round trip needs.
pub fn header() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.0).collect()
}

pub fn relation_zh(r: Relation) -> &'static str {
    match r {
        Relation::Head => "户主",
        Relation::Spouse => "配偶",
        Relation::Child => "子女",
        Relation::Parent => "父母",
        Relation::Grandchild => "孙辈",
        Relation::Sibling => "兄弟姐妹",
        Relation::Tenant => "租户",
        Relation::Other => "其他",
    }
}

pub fn status_zh(s: ResidentStatus) -> &'static str {
    match s {
        ResidentStatus::Living => "在住",
        ResidentStatus::MovedOut => "迁出",
        ResidentStatus::Deceased => "去世",
    }
}

pub fn gender_zh(g: Gender) -> &'static str {
    match g {
        Gender::Female => "女",
        Gender::Male => "男",
    }
}

fn parse_relation(s: &str) -> Option<Relation> {
    Relation::ALL
        .iter()
        .copied()
        .find(|r| relation_zh(*r) == s || r.as_str() == s)
        .or(match s {
            "本人" => Some(Relation::Head),
            "妻" | "夫" | "妻子" | "丈夫" => Some(Relation::Spouse),
            "子" | "女" | "儿子" | "女儿" => Some(Relation::Child),
            "父亲" | "母亲" => Some(Relation::Parent),
            "孙子" | "孙女" | "外孙" | "外孙女" => Some(Relation::Grandchild),
            _ => None,
        })
}

fn parse_status(s: &str) -> Option<ResidentStatus> {
    ResidentStatus::ALL
        .iter()
        .copied()
        .find(|r| status_zh(*r) == s || r.as_str() == s)
        .or(match s {
            "死亡" | "已故" => Some(ResidentStatus::Deceased),
            "已迁出" => Some(ResidentStatus::MovedOut),
            _ => None,
        })
}

fn parse_gender(s: &str) -> Option<Gender> {
    Gender::ALL
        .iter()
        .copied()
        .find(|g| gender_zh(*g) == s || g.as_str() == s)
}

/// Most rows one file may hold (a large community's register).
pub const MAX_ROWS: usize = 50_000;

/// The rows of the CSV text, or every row's error.
pub fn parse(register: &Register) -> Result<Vec<PersonRow>, Vec<RowError>> {
    let (rows, errors) = parse_all(register);
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// The rows that read, and the errors of those that do not, so that the importer can add
/// its own checks' errors to the same list.
pub fn parse_all(register: &Register) -> (Vec<PersonRow>, Vec<RowError>) {
    match parse_inner(&register.text, register.header_line) {
        Ok(x) => x,
        Err(errors) => (Vec::new(), errors),
    }
}

fn parse_inner(
    text: &str,
    header_line: usize,
) -> Result<(Vec<PersonRow>, Vec<RowError>), Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| {
        vec![RowError {
            line: header_line,
            message: format!("the header does not read as CSV: {e}"),
        }]
    })?;
    let mut index = Vec::with_capacity(COLUMNS.len());
    let mut errors = Vec::new();
    for (zh, en, required) in COLUMNS {
        let at = headers.iter().position(|h| h == *zh || h == *en);
        if at.is_none() && *required {
            errors.push(RowError {
                line: header_line,
                message: format!("the header has no column {zh} ({en})"),
            });
        }
        index.push(at);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = header_line + 1 + i;
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(RowError {
                line,
                message: format!("a file may hold at most {MAX_ROWS} people; split it"),
            });
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    message: format!("does not read as CSV: {e}"),
                });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        let cell = |c: usize| {
            index[c]
                .and_then(|i| record.get(i))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let mut problems = Vec::new();
        let mut required = |c: usize| {
            cell(c).unwrap_or_else(|| {
                problems.push(format!("{} is empty", COLUMNS[c].0));
                String::new()
            })
        };
        let household_no = required(0);
        let grid = required(1);
        let address = required(3);
        let name = required(4);
        let relation_text = required(7);
        let relation = parse_relation(&relation_text);
        if relation.is_none() && !relation_text.is_empty() {
            problems.push(format!("与户主关系 {relation_text:?} is not one of 户主, 配偶, 子女, 父母, 孙辈, 兄弟姐妹, 租户, 其他"));
        }
        let gender = match cell(5) {
            None => None,
            Some(g) => {
                let parsed = parse_gender(&g);
                if parsed.is_none() {
                    problems.push(format!("性别 {g:?} is not 男 or 女"));
                }
                parsed
            }
        };
        let birth_year = match cell(6) {
            None => None,
            Some(y) => match y.parse::<i64>() {
                Ok(y) => Some(y),
                Err(_) => {
                    problems.push(format!("出生年份 {y:?} is not a year"));
                    None
                }
            },
        };
        let status = match cell(11) {
            None => Some(ResidentStatus::Living),
            Some(s) => {
                let parsed = parse_status(&s);
                if parsed.is_none() {
                    problems.push(format!("状态 {s:?} is not 在住, 迁出 or 去世"));
                }
                parsed
            }
        };
        let tags = cell(10)
            .map(|t| {
                t.split(['、', ',', '，', ';', '；', ' '])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        match (problems.is_empty(), relation, status) {
            (true, Some(relation), Some(status)) => rows.push(PersonRow {
                line,
                household_no,
                grid,
                sector: cell(2),
                address,
                name,
                gender,
                birth_year,
                relation,
                phone: cell(8),
                id_number: cell(9),
                tags,
                status,
            }),
            _ => errors.push(RowError {
                line,
                message: problems.join("; "),
            }),
        }
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(vec![RowError {
            line: header_line + 1,
            message: "the file lists nobody".to_owned(),
        }]);
    }
    Ok((rows, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "户号,网格,片区,地址,姓名,性别,出生年份,与户主关系,联系电话,身份证号,关爱标签\n\
        JZ-0301,第一网格,3幢,金筑苑3幢201室,王秀英,女,1941,户主,13812345678,,独居老人、高龄老人\n\
        JZ-0302,第一网格,,金筑苑3幢202室,李建国,男,1956,户主,,,\n";

    #[test]
    fn a_register_reads_in_utf8_and_in_gbk() {
        let rows = parse(&decode(FILE.as_bytes()).expect("utf-8")).expect("rows");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].tags, ["独居老人", "高龄老人"]);
        assert_eq!(rows[0].gender, Some(Gender::Female));
        assert_eq!(rows[1].sector, None);
        let (gbk, _, _) = encoding_rs::GBK.encode(FILE);
        assert_eq!(parse(&decode(&gbk).expect("gbk")).expect("rows"), rows);
        let bom = [b"\xEF\xBB\xBF".as_slice(), FILE.as_bytes()].concat();
        assert_eq!(parse(&decode(&bom).expect("bom")).expect("rows"), rows);
    }

    #[test]
    fn every_bad_row_is_named_by_its_line() {
        let bad = "户号,网格,地址,姓名,与户主关系,性别\n\
            JZ-1,g,addr,王英,户主,女\n\
            ,g,addr,李四,朋友,男\n\
            JZ-2,g,addr,张三,户主,X\n";
        let errors = parse(&decode(bad.as_bytes()).expect("text")).expect_err("bad rows");
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
        assert!(errors[0].message.contains("户号 is empty"), "{}", errors[0]);
        assert!(errors[0].message.contains("朋友"), "{}", errors[0]);
        let errors = parse(&decode("姓名\n王英\n".as_bytes()).expect("text")).expect_err("header");
        assert!(errors.iter().any(|e| e.message.contains("户号")));
    }

    #[test]
    fn a_workbook_reads_from_its_header_row_and_names_rows_as_excel_does() {
        let mut table: Vec<Vec<String>> =
            vec![vec!["金筑社区户籍台账（2026年12月）".to_owned()], vec![]];
        for line in FILE.lines() {
            table.push(line.split(',').map(str::to_owned).collect());
        }
        let xlsx = write_xlsx(&table).expect("xlsx");
        let register = decode(&xlsx).expect("workbook");
        assert_eq!(
            register.header_line, 3,
            "the title and the blank row are above it"
        );
        let rows = parse(&register).expect("rows");
        assert_eq!(
            rows,
            parse(&decode(FILE.as_bytes()).expect("test data"))
                .expect("test data")
                .into_iter()
                .map(|r| PersonRow {
                    line: r.line + 2,
                    ..r
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(rows[0].phone.as_deref(), Some("13812345678"));
        // A wrong row is named by the row number Excel shows.
        table[4][7] = "朋友".to_owned();
        let errors = parse(&decode(&write_xlsx(&table).expect("test data")).expect("test data"))
            .expect_err("bad");
        assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [5]);
        // Numbers typed as numbers read as Excel shows them.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in [
            "户号",
            "网格",
            "地址",
            "姓名",
            "与户主关系",
            "出生年份",
            "联系电话",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).expect("test data");
        }
        sheet.write_number(1, 0, 301.0).expect("test data");
        for (c, v) in ["g", "addr", "王英", "户主"].iter().enumerate() {
            sheet.write_string(1, c as u16 + 1, *v).expect("test data");
        }
        sheet.write_number(1, 5, 1941.0).expect("test data");
        sheet.write_number(1, 6, 13812345678.0).expect("test data");
        let rows = parse(&decode(&book.save_to_buffer().expect("test data")).expect("test data"))
            .expect("rows");
        assert_eq!(
            (
                rows[0].household_no.as_str(),
                rows[0].birth_year,
                rows[0].phone.as_deref()
            ),
            ("301", Some(1941), Some("13812345678"))
        );
    }

    #[test]
    fn a_broken_workbook_is_an_error_not_a_panic() {
        let errors = decode(b"PK\x03\x04not really a zip").expect_err("broken");
        assert!(errors.message.contains(".xlsx"), "{errors}");
    }
}
