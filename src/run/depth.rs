//! Values nested too deep to map: found, cut and dropped without recursion (a vendor page may
//! nest tens of thousands of levels; recursive code would overflow the stack).

use serde_json::Value;

/// Levels below a record that mapper reads; deeper values make that record invalid.
pub const MAX_RECORD_DEPTH: usize = 128;

/// Cuts every array or object deeper than `max` levels below `v` (replaced by null) and
/// returns the JSON pointer of the first one cut, if any.
pub fn truncate_deep(v: &mut Value, max: usize) -> Option<String> {
    if !deeper_than(v, max) {
        return None; // the common case: one walk, no allocation per value
    }
    let mut first = None;
    let mut stack: Vec<(&mut Value, usize, String)> = vec![(v, 0, String::new())];
    while let Some((x, depth, ptr)) = stack.pop() {
        let nested = x.is_array() || x.is_object();
        if nested && depth >= max {
            drop_deep(std::mem::take(x));
            first.get_or_insert(ptr);
            continue;
        }
        match x {
            Value::Array(a) => {
                for (i, c) in a.iter_mut().enumerate() {
                    stack.push((c, depth + 1, format!("{ptr}/{i}")));
                }
            }
            Value::Object(m) => {
                for (k, c) in m.iter_mut() {
                    let key = k.replace('~', "~0").replace('/', "~1");
                    stack.push((c, depth + 1, format!("{ptr}/{key}")));
                }
            }
            _ => {}
        }
    }
    first
}

/// Whether any array or object sits `max` or more levels below `v`.
pub fn deeper_than(v: &Value, max: usize) -> bool {
    let nested = |c: &Value| c.is_array() || c.is_object();
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((x, depth)) = stack.pop() {
        match x {
            Value::Array(a) => {
                if depth >= max {
                    return true;
                }
                stack.extend(a.iter().filter(|c| nested(c)).map(|c| (c, depth + 1)));
            }
            Value::Object(m) => {
                if depth >= max {
                    return true;
                }
                stack.extend(m.values().filter(|c| nested(c)).map(|c| (c, depth + 1)));
            }
            _ => {}
        }
    }
    false
}

/// Drops a value of any depth without recursion.
pub fn drop_deep(v: Value) {
    let mut stack = vec![v];
    while let Some(mut x) = stack.pop() {
        match &mut x {
            Value::Array(a) => stack.append(a),
            Value::Object(m) => {
                let taken = std::mem::take(m);
                stack.extend(taken.into_iter().map(|(_, c)| c));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        let mut v = Value::Null;
        for _ in 0..levels {
            v = Value::Array(vec![v]);
        }
        v
    }

    #[test]
    fn deep_values_are_cut_and_dropped_without_recursion() {
        let mut rec = serde_json::json!({"id": "1", "deep": Value::Null});
        rec["deep"] = nested(200_000);
        let cut = truncate_deep(&mut rec, MAX_RECORD_DEPTH);
        assert_eq!(
            cut.as_deref().map(|p| p.starts_with("/deep/0/0")),
            Some(true)
        );
        assert_eq!(rec["id"], "1");
        drop_deep(rec);
        let mut shallow = serde_json::json!({"a": [{"b": 1}]});
        assert_eq!(truncate_deep(&mut shallow, MAX_RECORD_DEPTH), None);
        drop_deep(nested(300_000));
    }
}
