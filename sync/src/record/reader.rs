//! Reading a record document field by field, turning every surprise into a [`SchemaError`]
//! that names the field.

use super::*;

/// Field readers that turn every surprise into a [`SchemaError`] naming the field. `key` is
/// the map key, `field` the path shown to people.
///
/// Each map is read whole the first time one of its keys is asked for: in Automerge 0.12 a
/// single-key `get` costs about half of a pass over a whole record's root map, and a record
/// reads most of its keys. A reader made with [`Reader::at`] reads the document as it stood
/// at earlier heads, from the history, without a copy of the document.
pub(crate) struct Reader<'a> {
    doc: &'a Automerge,
    heads: Option<&'a [ChangeHash]>,
    maps: RefCell<Vec<(ObjId, Vec<MapRangeItem<'a>>)>>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(doc: &'a Automerge) -> Reader<'a> {
        Reader {
            doc,
            heads: None,
            maps: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn at(doc: &'a Automerge, heads: &'a [ChangeHash]) -> Reader<'a> {
        Reader {
            heads: Some(heads),
            ..Reader::new(doc)
        }
    }

    /// The winning value at `key` of the map `obj`, its id, and whether concurrent changes
    /// left other values there too.
    pub(crate) fn lookup(&self, obj: &ObjId, key: &str) -> Option<(Value<'static>, ObjId, bool)> {
        let mut maps = self.maps.borrow_mut();
        let i = match maps.iter().position(|(id, _)| id == obj) {
            Some(i) => i,
            None => {
                let items = match self.heads {
                    None => self.doc.map_range(obj, ..).collect(),
                    Some(heads) => self.doc.map_range_at(obj, .., heads).collect(),
                };
                maps.push((obj.clone(), items));
                maps.len() - 1
            }
        };
        let items = &maps[i].1;
        // map_range yields keys in lexicographic order (it is a range over keys).
        let at = items.binary_search_by(|item| (*item.key).cmp(key)).ok()?;
        let item = &items[at];
        Some((Value::from(item.value.clone()), item.id(), item.conflict))
    }

    /// Every value concurrent changes left at `key`, as strings where they are strings or
    /// Text; the winner is among them but not necessarily first.
    pub(crate) fn all_strings(&self, obj: &ObjId, key: &str) -> Vec<String> {
        let all = match self.heads {
            None => self.doc.get_all(obj, key),
            Some(heads) => self.doc.get_all_at(obj, key, heads),
        };
        all.unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| match v {
                Value::Scalar(s) => s.as_str().map(str::to_owned),
                Value::Object(ObjType::Text) => self.text_of(&id).ok(),
                Value::Object(_) => None,
            })
            .collect()
    }

    /// Whether `key` has values left by concurrent changes (the map pass says so for free).
    pub(crate) fn has_conflict(&self, obj: &ObjId, key: &str) -> bool {
        self.lookup(obj, key)
            .is_some_and(|(_, _, conflict)| conflict)
    }

    pub(crate) fn text_of(&self, id: &ObjId) -> Result<String, AutomergeError> {
        match self.heads {
            None => self.doc.text(id),
            Some(heads) => self.doc.text_at(id, heads),
        }
    }

    pub(crate) fn length(&self, id: &ObjId) -> usize {
        match self.heads {
            None => self.doc.length(id),
            Some(heads) => self.doc.length_at(id, heads),
        }
    }

    /// The items of the list `id`: each item's index, value and id.
    pub(crate) fn list(&self, id: &ObjId) -> Vec<(usize, ValueRef<'a>, ObjId)> {
        let range = match self.heads {
            None => self.doc.list_range(id, ..),
            Some(heads) => self.doc.list_range_at(id, .., heads),
        };
        range
            .map(|item| {
                let id = item.id();
                (item.index, item.value, id)
            })
            .collect()
    }

    /// The value at `key`, treating an explicit `null` like an absent field: Automerge JS
    /// stores `null` when an optional field is cleared by assignment rather than `delete`.
    pub(crate) fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'static>, ObjId)> {
        match self.lookup(obj, key)? {
            (Value::Scalar(s), _, _) if matches!(s.as_ref(), ScalarValue::Null) => None,
            (value, id, _) => Some((value, id)),
        }
    }

    /// A string stored either as a scalar string or as a Text object.
    pub(crate) fn string(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<Option<String>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Scalar(s), _)) if s.is_str() => Ok(s.as_str().map(str::to_owned)),
            Some((Value::Object(ObjType::Text), id)) => self.read_text(&id, field).map(Some),
            Some((other, _)) => Err(SchemaError::wrong_type(field, "a string", &other)),
        }
    }

    pub(crate) fn required_string(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<String, SchemaError> {
        self.string(obj, key, field)?
            .ok_or_else(|| SchemaError::missing(field))
    }

    pub(crate) fn required_enum<T: FromStr + NamedEnum>(
        &self,
        obj: &ObjId,
        key: &str,
    ) -> Result<T, SchemaError> {
        let s = self.required_string(obj, key, key)?;
        s.parse().map_err(|_| {
            SchemaError::new(
                key,
                format!("must be one of {}, found {}", T::names(), quote(&s)),
            )
        })
    }

    /// A whole number: `int`, `uint` or a JS timestamp, or an `f64` with no fraction (a JS
    /// number that went through arithmetic may be stored that way).
    pub(crate) fn int(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<Option<i64>, SchemaError> {
        const MAX_SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1, JS's largest exact integer
        let Some((value, _)) = self.get(obj, key) else {
            return Ok(None);
        };
        let n = match &value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Int(n) | ScalarValue::Timestamp(n) => Some(*n),
                ScalarValue::Uint(n) => i64::try_from(*n).ok(),
                ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() <= MAX_SAFE => Some(*f as i64),
                _ => None,
            },
            Value::Object(_) => None,
        };
        n.map(Some)
            .ok_or_else(|| SchemaError::wrong_type(field, "an integer", &value))
    }

    pub(crate) fn required_int(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<i64, SchemaError> {
        self.int(obj, key, field)?
            .ok_or_else(|| SchemaError::missing(field))
    }

    /// Any finite number; JS stores `31` as `int` and `31.3` as `f64`.
    pub(crate) fn number(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
    ) -> Result<Option<f64>, SchemaError> {
        let Some((value, _)) = self.get(obj, key) else {
            return Ok(None);
        };
        let n = match &value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Int(n) => Some(*n as f64),
                ScalarValue::Uint(n) => Some(*n as f64),
                ScalarValue::F64(f) if f.is_finite() => Some(*f),
                _ => None,
            },
            Value::Object(_) => None,
        };
        n.map(Some)
            .ok_or_else(|| SchemaError::wrong_type(field, "a number", &value))
    }

    pub(crate) fn object(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
        want: ObjType,
    ) -> Result<Option<ObjId>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Object(t), id))
                if t == want || (want == ObjType::Map && t == ObjType::Table) =>
            {
                Ok(Some(id))
            }
            Some((other, _)) => Err(SchemaError::wrong_type(field, obj_type_name(want), &other)),
        }
    }

    /// The root-level Text object at `key`, checked for length but not read: reading a
    /// long description only to validate it would be wasted work.
    pub(crate) fn text(&self, key: &str, max: usize) -> Result<ObjId, SchemaError> {
        let id = match self.get(&ROOT, key) {
            None => return Err(SchemaError::missing(key)),
            Some((Value::Object(ObjType::Text), id)) => id,
            Some((other, _)) => {
                let hint = if matches!(&other, Value::Scalar(s) if s.is_str()) {
                    " (a plain string would not merge concurrent typing; store a JS string, not an ImmutableString)"
                } else {
                    ""
                };
                return Err(SchemaError::new(
                    key,
                    format!("must be text, found {}{hint}", type_name(&other)),
                ));
            }
        };
        // Length is in the document's text units, Unicode code points for this build.
        check_count(key, self.length(&id), max)?;
        Ok(id)
    }

    pub(crate) fn read_text(&self, id: &ObjId, field: &str) -> Result<String, SchemaError> {
        self.text_of(id)
            .map_err(|e| SchemaError::new(field, format!("could not be read: {e}")))
    }

    /// A string or a Text, for fields such as notes where either merges well enough.
    pub(crate) fn string_or_text(
        &self,
        obj: &ObjId,
        key: &str,
        field: &str,
        max: usize,
    ) -> Result<Option<usize>, SchemaError> {
        match self.get(obj, key) {
            None => Ok(None),
            Some((Value::Scalar(s), _)) if s.is_str() => {
                let len = s.as_str().map_or(0, |s| s.chars().count());
                check_count(field, len, max).map(|()| Some(len))
            }
            Some((Value::Object(ObjType::Text), id)) => {
                let len = self.length(&id);
                check_count(field, len, max).map(|()| Some(len))
            }
            Some((other, _)) => Err(SchemaError::wrong_type(field, "a string or text", &other)),
        }
    }

    pub(crate) fn location(&self) -> Result<Option<Location>, SchemaError> {
        let Some(loc) = self.object(&ROOT, "location", "location", ObjType::Map)? else {
            return Ok(None);
        };
        let coordinate = |key: &str, field: &str, limit: f64| -> Result<f64, SchemaError> {
            let v = self
                .number(&loc, key, field)?
                .ok_or_else(|| SchemaError::missing(field))?;
            if v.abs() > limit {
                return Err(SchemaError::new(
                    field,
                    format!("must be between -{limit} and {limit}, found {v}"),
                ));
            }
            Ok(v)
        };
        let lat = coordinate("lat", "location.lat", 90.0)?;
        let lng = coordinate("lng", "location.lng", 180.0)?;
        let accuracy_m = self.number(&loc, "accuracy_m", "location.accuracy_m")?;
        if let Some(a) = accuracy_m
            && a < 0.0
        {
            return Err(SchemaError::new(
                "location.accuracy_m",
                format!("must not be negative, found {a}"),
            ));
        }
        Ok(Some(Location {
            lat,
            lng,
            accuracy_m,
        }))
    }

    /// The required list at `key`, yielding each item's map id and its display path.
    pub(crate) fn list_of_maps(&self, key: &str) -> Result<Vec<(ObjId, String)>, SchemaError> {
        let list = self
            .object(&ROOT, key, key, ObjType::List)?
            .ok_or_else(|| SchemaError::missing(key))?;
        self.list(&list)
            .into_iter()
            .map(|(index, value, id)| {
                let path = format!("{key}[{index}]");
                match value {
                    ValueRef::Object(ObjType::Map | ObjType::Table) => Ok((id, path)),
                    other => Err(SchemaError::wrong_type(&path, "a map", &Value::from(other))),
                }
            })
            .collect()
    }

    pub(crate) fn timeline(&self) -> Result<(), SchemaError> {
        for (entry, path) in self.list_of_maps("timeline")? {
            let field = |k: &str| format!("{path}.{k}");
            let action = self
                .string(&entry, "action", &field("action"))?
                .ok_or_else(|| SchemaError::missing(&field("action")))?;
            if action.is_empty() {
                return Err(SchemaError::new(&field("action"), "must not be empty"));
            }
            check_len(&field("action"), &action, MAX_CODE_CHARS)?;
            self.required_int(&entry, "by", &field("by"))?;
            self.required_int(&entry, "at", &field("at"))?;
            self.string_or_text(&entry, "note", &field("note"), MAX_LONG_TEXT_CHARS)?;
        }
        Ok(())
    }

    pub(crate) fn notes(&self) -> Result<(), SchemaError> {
        for (note, path) in self.list_of_maps("notes")? {
            let field = |k: &str| format!("{path}.{k}");
            self.required_int(&note, "by", &field("by"))?;
            self.required_int(&note, "at", &field("at"))?;
            self.string_or_text(&note, "text", &field("text"), MAX_LONG_TEXT_CHARS)?
                .ok_or_else(|| SchemaError::missing(&field("text")))?;
        }
        Ok(())
    }

    /// Photos are stored outside the document by content hash; the document only lists them.
    /// Checks the attachments and returns the SHA-256 of each, in list order.
    /// `checks`: a visit's answers, each a known question with one of its answers.
    pub(crate) fn checks(&self) -> Result<std::collections::BTreeMap<String, String>, SchemaError> {
        let mut out = std::collections::BTreeMap::new();
        let Some(map) = self.object(&ROOT, "checks", "checks", ObjType::Map)? else {
            return Ok(out);
        };
        let keys: Vec<String> = match self.heads {
            None => self.doc.keys(&map).collect(),
            Some(heads) => self.doc.keys_at(&map, heads).collect(),
        };
        for key in keys {
            let field = format!("checks.{key}");
            let answer = self
                .string(&map, &key, &field)?
                .ok_or_else(|| SchemaError::missing(&field))?;
            crate::care::check_answer(&key, &answer).map_err(|m| SchemaError::new(&field, m))?;
            out.insert(key, answer);
        }
        Ok(out)
    }

    /// `persons`: the pids a visit saw, each once.
    pub(crate) fn persons(&self) -> Result<Vec<String>, SchemaError> {
        let Some(list) = self.object(&ROOT, "persons", "persons", ObjType::List)? else {
            return Ok(Vec::new());
        };
        let mut out: Vec<String> = Vec::new();
        for (index, value, _) in self.list(&list) {
            let field = format!("persons[{index}]");
            let pid = match Value::from(value) {
                Value::Scalar(s) if s.is_str() => s.as_str().unwrap_or_default().to_owned(),
                other => return Err(SchemaError::wrong_type(&field, "a person id", &other)),
            };
            if !is_uuid(&pid) || out.contains(&pid) {
                return Err(SchemaError::new(
                    &field,
                    format!(
                        "must be a person id (a UUID) named once, found {}",
                        quote(&pid)
                    ),
                ));
            }
            out.push(pid);
        }
        if out.len() > crate::household::MAX_MEMBERS {
            return Err(SchemaError::new(
                "persons",
                "names more people than a household may hold",
            ));
        }
        Ok(out)
    }

    pub(crate) fn attachments(&self) -> Result<Vec<String>, SchemaError> {
        let mut shas = Vec::new();
        for (att, path) in self.list_of_maps("attachments")? {
            let field = |k: &str| format!("{path}.{k}");
            let sha = self
                .string(&att, "sha256", &field("sha256"))?
                .ok_or_else(|| SchemaError::missing(&field("sha256")))?;
            if sha.len() != 64
                || !sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(SchemaError::new(
                    &field("sha256"),
                    format!("must be 64 lower-case hex digits, found {}", quote(&sha)),
                ));
            }
            let mime = self
                .string(&att, "mime", &field("mime"))?
                .ok_or_else(|| SchemaError::missing(&field("mime")))?;
            if !mime.contains('/') || mime.len() > MAX_CODE_CHARS {
                return Err(SchemaError::new(
                    &field("mime"),
                    format!(
                        "must be a media type like image/jpeg, found {}",
                        quote(&mime)
                    ),
                ));
            }
            self.required_int(&att, "by", &field("by"))?;
            for (key, required) in [("bytes", true), ("width", false), ("height", false)] {
                match self.int(&att, key, &field(key))? {
                    Some(n) if n < 0 => {
                        return Err(SchemaError::new(
                            &field(key),
                            format!("must not be negative, found {n}"),
                        ));
                    }
                    None if required => return Err(SchemaError::missing(&field(key))),
                    _ => {}
                }
            }
            self.int(&att, "taken_at", &field("taken_at"))?;
            shas.push(sha);
        }
        Ok(shas)
    }
}

pub(crate) fn check_len(field: &str, s: &str, max: usize) -> Result<(), SchemaError> {
    check_count(field, s.chars().count(), max)
}

pub(crate) fn check_count(field: &str, len: usize, max: usize) -> Result<(), SchemaError> {
    if len > max {
        Err(SchemaError::new(
            field,
            format!("is {len} characters long, more than the {max} allowed"),
        ))
    } else {
        Ok(())
    }
}

/// Quotes a found value for an error message, cut short so a hostile document cannot make
/// the message huge.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    } else {
        format!("{s:?}")
    }
}

pub(crate) fn obj_type_name(t: ObjType) -> &'static str {
    match t {
        ObjType::Map | ObjType::Table => "a map",
        ObjType::List => "a list",
        ObjType::Text => "text",
    }
}

/// The short type names used in messages: "found int", "found text".
pub(crate) fn type_name(v: &Value<'_>) -> &'static str {
    match v {
        Value::Object(ObjType::Map | ObjType::Table) => "map",
        Value::Object(ObjType::List) => "list",
        Value::Object(ObjType::Text) => "text",
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Bytes(_) => "bytes",
            ScalarValue::Str(_) => "string",
            ScalarValue::Int(_) => "int",
            ScalarValue::Uint(_) => "uint",
            ScalarValue::F64(_) => "float",
            ScalarValue::Counter(_) => "counter",
            ScalarValue::Timestamp(_) => "timestamp",
            ScalarValue::Boolean(_) => "bool",
            ScalarValue::Unknown { .. } => "a value of unknown type",
            ScalarValue::Null => "null",
        },
    }
}
