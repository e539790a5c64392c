//! End-to-end tests of the real `gridmap` binary live in `tests/e2e/`; this library is empty
//! so that the crate can be a workspace member.
