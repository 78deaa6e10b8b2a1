//! Helpers for plugin authors' own insta tests (see README "Testing a flow").
