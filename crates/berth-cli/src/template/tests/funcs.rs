//! Comparisons, escapers and docker's functions.

use super::super::funcs::*;
use super::super::value::{NilKind, Schema, Val};
use std::borrow::Cow;

fn st(s: &str) -> Val<'static> {
    Val::Str(Cow::Owned(s.to_owned()))
}

#[test]
fn comparisons_as_go() {
    assert_eq!(eq(&Val::Int(1), &[Val::Int(2), Val::Int(1)]), Ok(true));
    assert_eq!(eq(&Val::Int(1), &[Val::Uint(1)]), Ok(true));
    assert_eq!(
        eq(&Val::Int(1), &[Val::Float(1.0)]),
        Err(INCOMPATIBLE.into())
    );
    assert_eq!(eq(&Val::Missing, &[st("x")]), Ok(false));
    assert_eq!(eq(&Val::Nil(NilKind::Ptr), &[Val::Missing]), Ok(true));
    assert_eq!(lt(&st("a"), &st("b")), Ok(true));
    assert_eq!(
        lt(&Val::Bool(true), &Val::Bool(false)),
        Err(BAD_TYPE.into())
    );
    assert_eq!(lt(&Val::Int(-1), &Val::Uint(0)), Ok(true));
    assert_eq!(le(&Val::Int(2), &Val::Int(2)), Ok(true));
}

#[test]
fn escapers_as_go() {
    assert_eq!(html("<a&b>\"'"), "&lt;a&amp;b&gt;&#34;&#39;");
    assert_eq!(js("<a&b>\"'\\x"), "\\u003Ca\\u0026b\\u003E\\\"\\'\\\\x");
    assert_eq!(urlquery("a b&c/d"), "a+b%26c%2Fd");
    assert_eq!(title("hello wORLD-x_y"), "Hello WORLD-X_y");
}

#[test]
fn docker_functions() {
    let s = Schema::PLAIN;
    let v = pad(vec![st("ab"), Val::Int(1), Val::Int(2)], &s).unwrap_or(Val::Missing);
    assert_eq!(v.print(&s), " ab  ");
    let v = pad(vec![st(""), Val::Int(1), Val::Int(2)], &s).unwrap_or(Val::Missing);
    assert_eq!(v.print(&s), "");
    let v = truncate(vec![st("abcdef"), Val::Int(3)], &s).unwrap_or(Val::Missing);
    assert_eq!(v.print(&s), "abc");
    let v = split(vec![st("a,b"), st(",")], &s).unwrap_or(Val::Missing);
    assert_eq!(v.print(&s), "[a b]");
    let v = join(vec![v, st("+")], &s).unwrap_or(Val::Missing);
    assert_eq!(v.print(&s), "a+b");
    assert!(join(vec![Val::Int(3), st("+")], &s).is_err());
}
