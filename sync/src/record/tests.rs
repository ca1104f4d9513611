use super::edit::list;
use super::*;
use automerge::transaction::Transactable;

pub const GRID: &str = "/gusu/byw/ws1/jinzhu/g01";
pub const SECTOR: &str = "/gusu/byw/ws1/jinzhu/g01/b1";
pub const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

pub fn sample(id: &str, reported_by: i64) -> NewRecord {
    NewRecord {
        id: id.into(),
        kind: Kind::Event,
        grid: GRID.into(),
        sector: Some(SECTOR.into()),
        category: "city.garbage_exposed".into(),
        title: "金筑苑3幢门口暴露垃圾".into(),
        description: "垃圾袋堆在门口两天未清运".into(),
        address: "金筑苑3幢".into(),
        location: Some(Location {
            lat: 31.3265,
            lng: 120.6132,
            accuracy_m: Some(8.0),
        }),
        household: None,
        persons: Vec::new(),
        raised_from: None,
        checks: Default::default(),
        reported_by,
        reported_at: 1_717_000_000_000,
        urgency: Urgency::Normal,
    }
}

fn edit(doc: &mut Automerge, f: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) {
    let mut tx = doc.transaction();
    f(&mut tx);
    tx.commit();
}

fn err_of(doc: &Automerge) -> String {
    read_record(doc)
        .expect_err("the document should be invalid")
        .to_string()
}

#[test]
fn reads_what_new_record_writes() {
    let doc = new_record(ActorId::random(), &sample(ID, 7));
    let r = read_record(&doc).expect("valid");
    assert_eq!(r.id, ID);
    assert_eq!(r.kind, Kind::Event);
    assert_eq!(r.grid, GRID);
    assert_eq!(r.sector.as_deref(), Some(SECTOR));
    assert_eq!(r.status, Status::Reported);
    assert_eq!(r.urgency, Urgency::Normal);
    assert_eq!(r.reported_by, 7);
    assert_eq!(r.title, "金筑苑3幢门口暴露垃圾");
    assert_eq!(r.department, None);
    assert_eq!(r.location.map(|l| l.accuracy_m), Some(Some(8.0)));
    assert_eq!(
        r.position(),
        Position {
            grid: GRID,
            sector: Some(SECTOR),
            department: None
        }
    );
    // Survives a save and load, as the server stores it.
    let loaded = Automerge::load(&doc.save()).expect("loads");
    assert_eq!(read_record(&loaded), Ok(r));
}

#[test]
fn edit_helpers_produce_valid_records() {
    let mut doc = new_record(ActorId::random(), &sample(ID, 7));
    edit(&mut doc, |tx| {
        append_timeline(tx, "accept", 9, 1, None).expect("timeline");
        tx.put(ROOT, "status", "accepted").expect("status");
        tx.put(ROOT, "department", "/gusu:police")
            .expect("department");
        tx.put(ROOT, "status", "dispatched").expect("status");
        append_timeline(tx, "dispatch", 9, 2, Some("请派出所处理")).expect("timeline");
        append_note(tx, 9, 3, "已电话联系物业").expect("note");
        set_text(tx, "title", "金筑苑3幢门口暴露垃圾（已通知）").expect("text");
    });
    let r = read_record(&doc).expect("valid");
    assert_eq!(r.status, Status::Dispatched);
    assert_eq!(r.department.as_deref(), Some("/gusu:police"));
    assert_eq!(r.title, "金筑苑3幢门口暴露垃圾（已通知）");
    let (_, timeline) = doc.get(ROOT, "timeline").expect("ok").expect("present");
    let actions: Vec<String> = (0..doc.length(&timeline))
        .map(|i| {
            let (_, entry) = doc.get(&timeline, i).expect("ok").expect("entry");
            match doc.get(&entry, "action").expect("ok") {
                Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_owned(),
                _ => String::new(),
            }
        })
        .collect();
    assert_eq!(actions, ["report", "accept", "dispatch"]);
}

/// What Automerge JS writes when the app does not wrap strings in `ImmutableString`:
/// every string is a Text object. Whole numbers are ints, fractions floats.
#[test]
fn accepts_js_style_values() {
    let mut doc = new_record(ActorId::random(), &sample(ID, 7));
    edit(&mut doc, |tx| {
        for (key, value) in [
            ("id", ID),
            ("kind", "need"),
            ("grid", GRID),
            ("status", "in_progress"),
        ] {
            let t = tx.put_object(ROOT, key, ObjType::Text).expect("put");
            tx.splice_text(&t, 0, 0, value).expect("splice");
        }
        tx.put(ROOT, "category", "need.elderly_care").expect("put");
        tx.put(ROOT, "sector", ScalarValue::Null).expect("put");
        tx.put(
            ROOT,
            "reported_at",
            ScalarValue::Timestamp(1_717_000_000_000),
        )
        .expect("put");
        tx.put(ROOT, "reported_by", ScalarValue::Uint(7))
            .expect("put");
        let loc = tx.put_object(ROOT, "location", ObjType::Map).expect("put");
        tx.put(&loc, "lat", 31_i64).expect("put");
        tx.put(&loc, "lng", 120.5).expect("put");
        let notes = list(tx, "notes").expect("notes");
        let note = tx.insert_object(&notes, 0, ObjType::Map).expect("insert");
        tx.put(&note, "by", 7_i64).expect("put");
        tx.put(&note, "at", 5.0).expect("put");
        let text = tx.put_object(&note, "text", ObjType::Text).expect("put");
        tx.splice_text(&text, 0, 0, "已上门").expect("splice");
        tx.put(ROOT, "future_field", "ignored").expect("put");
    });
    let r = read_record(&doc).expect("valid");
    assert_eq!(r.kind, Kind::Need);
    assert_eq!(r.status, Status::InProgress);
    assert_eq!(r.sector, None);
    assert_eq!(r.reported_at, 1_717_000_000_000);
    assert_eq!(r.reported_by, 7);
    assert_eq!(
        r.location,
        Some(Location {
            lat: 31.0,
            lng: 120.5,
            accuracy_m: None
        })
    );
}

#[test]
fn attachments_are_checked() {
    let mut doc = new_record(ActorId::random(), &sample(ID, 7));
    edit(&mut doc, |tx| {
        let list = list(tx, "attachments").expect("list");
        let a = tx.insert_object(&list, 0, ObjType::Map).expect("insert");
        tx.put(&a, "sha256", "ab".repeat(32)).expect("put");
        tx.put(&a, "mime", "image/jpeg").expect("put");
        tx.put(&a, "bytes", 123_456_i64).expect("put");
        tx.put(&a, "width", 1920_i64).expect("put");
        tx.put(&a, "height", 1080_i64).expect("put");
        tx.put(&a, "taken_at", 1_717_000_000_000_i64).expect("put");
        tx.put(&a, "by", 7_i64).expect("put");
    });
    assert!(read_record(&doc).is_ok());
    edit(&mut doc, |tx| {
        let list = list(tx, "attachments").expect("list");
        let (_, a) = tx.get(&list, 0).expect("ok").expect("item");
        tx.put(&a, "sha256", "AB".repeat(32)).expect("put");
    });
    assert!(
        err_of(&doc).starts_with("field `attachments[0].sha256` must be 64 lower-case hex digits")
    );
}

/// One bad document per rule, each checked for the message a person would read.
#[test]
fn names_the_field_and_the_problem() {
    type Edit = Box<dyn Fn(&mut automerge::transaction::Transaction<'_>)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|tx| tx.put(ROOT, "grid", 5_i64).expect("put")),
            "field `grid` must be a string, found int",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "grid", "gusu").expect("put")),
            "field `grid` must be a grid path like /gusu/byw/ws1/jinzhu/g01, found \"gusu\"",
        ),
        (
            Box::new(|tx| tx.delete(ROOT, "kind").expect("del")),
            "field `kind` is missing",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "kind", "complaint").expect("put")),
            "field `kind` must be one of need, visit, event, found \"complaint\"",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "schema", 2_i64).expect("put")),
            "field `schema` must be 1 (this server reads schema 1 records), found 2",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "id", "not-a-uuid").expect("put")),
            "field `id` must be a lower-case hyphenated UUID, found \"not-a-uuid\"",
        ),
        (
            Box::new(|tx| {
                tx.put(ROOT, "sector", "/gusu/byw/ws1/jinzhu/g02/b1")
                    .expect("put")
            }),
            "field `sector` must be a sector path under the record's grid /gusu/byw/ws1/jinzhu/g01, found \"/gusu/byw/ws1/jinzhu/g02/b1\"",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "title", "plain").expect("put")),
            "field `title` must be text, found string (a plain string would not merge concurrent typing; store a JS string, not an ImmutableString)",
        ),
        (
            Box::new(|tx| set_text(tx, "title", &"长".repeat(201)).expect("text")),
            "field `title` is 201 characters long, more than the 200 allowed",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "raised_from", "the visit").expect("put")),
            "field `raised_from` must be a record id, found \"the visit\"",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "reported_at", 1.5).expect("put")),
            "field `reported_at` must be an integer, found float",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "status", "done").expect("put")),
            "field `status` must be one of reported, accepted, dispatched, in_progress, resolved, verified, closed, returned, withdrawn, found \"done\"",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "department", "police").expect("put")),
            "field `department` must be a department key like /gusu:police, found \"police\"",
        ),
        (
            Box::new(|tx| tx.put(ROOT, "category", "City Garbage").expect("put")),
            "field `category` must be a category code like city.garbage_exposed, found \"City Garbage\"",
        ),
        (
            Box::new(|tx| {
                let (_, loc) = tx.get(ROOT, "location").expect("ok").expect("loc");
                tx.put(&loc, "lat", 91_i64).expect("put");
            }),
            "field `location.lat` must be between -90 and 90, found 91",
        ),
        (
            Box::new(|tx| {
                tx.put_object(ROOT, "location", ObjType::List).expect("put");
            }),
            "field `location` must be a map, found list",
        ),
        (
            Box::new(|tx| tx.delete(ROOT, "notes").expect("del")),
            "field `notes` is missing",
        ),
        (
            Box::new(|tx| {
                let tl = list(tx, "timeline").expect("tl");
                tx.insert(&tl, 1, "accepted").expect("insert");
            }),
            "field `timeline[1]` must be a map, found string",
        ),
        (
            Box::new(|tx| {
                let tl = list(tx, "timeline").expect("tl");
                let (_, e) = tx.get(&tl, 0).expect("ok").expect("entry");
                tx.put(&e, "by", "张三").expect("put");
            }),
            "field `timeline[0].by` must be an integer, found string",
        ),
        (
            Box::new(|tx| {
                let notes = list(tx, "notes").expect("notes");
                let n = tx.insert_object(&notes, 0, ObjType::Map).expect("insert");
                tx.put(&n, "by", 1_i64).expect("put");
                tx.put(&n, "at", 1_i64).expect("put");
            }),
            "field `notes[0].text` is missing",
        ),
    ];
    for (change, expected) in cases {
        let mut doc = new_record(ActorId::random(), &sample(ID, 7));
        edit(&mut doc, |tx| change(tx));
        assert_eq!(err_of(&doc), expected);
    }
}

#[test]
fn empty_document_is_missing_schema() {
    assert_eq!(err_of(&Automerge::new()), "field `schema` is missing");
}

#[test]
fn names_round_trip() {
    for k in Kind::ALL {
        assert_eq!(k.as_str().parse::<Kind>(), Ok(*k));
    }
    for s in Status::ALL {
        assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        // serde spelling agrees with as_str
        let mut out = Vec::new();
        ciborium::into_writer(s, &mut out).expect("write");
        let text: String = ciborium::from_reader(&out[..]).expect("read");
        assert_eq!(text, s.as_str());
    }
    for u in Urgency::ALL {
        assert_eq!(u.as_str().parse::<Urgency>(), Ok(*u));
    }
    assert!("Need".parse::<Kind>().is_err());
}

#[test]
fn shapes() {
    assert!(is_uuid(ID));
    for bad in [
        "",
        "0F8FAD5B-D9CB-469F-A165-70867728950E",
        "0f8fad5bd9cb469fa16570867728950e",
        "0f8fad5b-d9cb-469f-a165-70867728950g",
    ] {
        assert!(!is_uuid(bad), "{bad}");
    }
    assert!(is_department_key("/gusu:police"));
    assert!(is_department_key("/gusu/byw:urban_mgmt"));
    for bad in ["police", "/gusu:", ":police", "/gusu:Police", "gusu:police"] {
        assert!(!is_department_key(bad), "{bad}");
    }
}

#[test]
fn a_need_names_the_visit_it_was_raised_from() {
    let visit = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let mut fields = sample("7c9e6679-7425-40de-944b-e07fc1f90ae7", 7);
    fields.raised_from = Some(visit.to_owned());
    let doc = new_record(ActorId::random(), &fields);
    assert_eq!(
        read_record(&doc).expect("valid").raised_from.as_deref(),
        Some(visit)
    );
    let plain = new_record(
        ActorId::random(),
        &sample("7c9e6679-7425-40de-944b-e07fc1f90ae8", 7),
    );
    assert_eq!(read_record(&plain).expect("valid").raised_from, None);
}

#[test]
fn a_visit_carries_its_checklist_and_nothing_else_does() {
    let mut fields = sample("7c9e6679-7425-40de-944b-e07fc1f90ae9", 7);
    fields.kind = Kind::Visit;
    fields.category = "visit.elderly_alone".to_owned();
    fields.checks = [("wellbeing", "poor"), ("safety", "none")]
        .into_iter()
        .map(|(c, a)| (c.to_owned(), a.to_owned()))
        .collect();
    let mut doc = new_record(ActorId::random(), &fields);
    let r = read_record(&doc).expect("valid");
    assert_eq!(r.checks.get("wellbeing").map(String::as_str), Some("poor"));
    assert_eq!(r.checks.len(), 2);
    edit(&mut doc, |tx| {
        let map = match tx.get(ROOT, "checks").expect("get") {
            Some((automerge::Value::Object(_), id)) => id,
            other => panic!("checks is {other:?}"),
        };
        tx.put(&map, "wellbeing", "dying").expect("put");
    });
    assert_eq!(
        err_of(&doc),
        "field `checks.wellbeing` \"dying\" is not an answer to \"wellbeing\""
    );
    let mut need = fields.clone();
    need.kind = Kind::Need;
    need.category = "need.meal_assistance".to_owned();
    let doc = new_record(ActorId::random(), &need);
    assert_eq!(err_of(&doc), "field `checks` only a visit has a checklist");
}
