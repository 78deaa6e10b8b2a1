//! The PostgreSQL harness's URL helper (`dialplane_tests::pg`): it lives
//! here so the helper crate needs no test binary of its own.

use dialplane_tests::pg::with_database;

#[test]
fn replaces_the_database_name() {
    assert_eq!(
        with_database("postgres://u:p@h:1/postgres?sslmode=disable", "t_1"),
        "postgres://u:p@h:1/t_1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t_2"), "postgres://h/t_2");
}
