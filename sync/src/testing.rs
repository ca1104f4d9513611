//! Helpers for tests of the push path, here and in the integration suite (feature
//! `testing`): crafted changes that a fuzzer found.

/// A change with two surplus bytes after its first column's data, lengths and checksum
/// fixed: Automerge decodes and applies it, but a document saved with it does not load.
pub fn with_surplus_bytes(change: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    fn leb(bytes: &[u8], pos: &mut usize) -> u64 {
        let (mut n, mut shift) = (0u64, 0);
        loop {
            let b = bytes[*pos];
            *pos += 1;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return n;
            }
            shift += 7;
        }
    }
    fn put_leb(out: &mut Vec<u8>, mut n: u64) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }
    assert_eq!(change[8], 1, "an uncompressed change chunk");
    let mut pos = 9;
    let len = leb(change, &mut pos) as usize;
    let body = &change[pos..pos + len];
    // Header: deps, actor, seq, start op, time, message, other actors; then columns.
    let mut p = 0;
    let deps = leb(body, &mut p) as usize;
    p += 32 * deps;
    let actor_len = leb(body, &mut p) as usize;
    p += actor_len;
    for _ in 0..3 {
        leb(body, &mut p); // seq, start op, time (signed, but skipped alike)
    }
    let msg_len = leb(body, &mut p) as usize;
    p += msg_len;
    for _ in 0..leb(body, &mut p) {
        let l = leb(body, &mut p) as usize;
        p += l;
    }
    let meta_start = p;
    let columns = leb(body, &mut p);
    let specs: Vec<(u64, u64)> = (0..columns)
        .map(|_| (leb(body, &mut p), leb(body, &mut p)))
        .collect();
    let data = p;
    let mut new_body = body[..meta_start].to_vec();
    put_leb(&mut new_body, columns);
    for (i, (spec, l)) in specs.iter().enumerate() {
        put_leb(&mut new_body, *spec);
        put_leb(&mut new_body, if i == 0 { l + 2 } else { *l });
    }
    let first = specs[0].1 as usize;
    new_body.extend_from_slice(&body[data..data + first]);
    new_body.extend_from_slice(&[0x08, 0x00]);
    new_body.extend_from_slice(&body[data + first..]);
    let mut chunk = vec![1u8];
    put_leb(&mut chunk, new_body.len() as u64);
    chunk.extend_from_slice(&new_body);
    let hash = sha2::Sha256::digest(&chunk);
    let mut out = change[..4].to_vec();
    out.extend_from_slice(&hash[..4]);
    out.extend_from_slice(&chunk);
    out
}
