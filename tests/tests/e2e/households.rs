//! Single household changes over GraphQL: counts follow the household along its chain, and
//! mistakes get clear codes.

use serde_json::json;

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(a_household_added_moved_and_removed_moves_the_counts);

fn a_household_added_moved_and_removed_moves_the_counts(server: &Server) {
    import_hierarchy(server, "GRID");
    let added = server.query(
        r#"mutation { addHousehold(id: "x1", lon: 104.05, lat: 30.75, persons: 4, building: "B9") { id unit { code } } }"#,
        json!({}),
    );
    assert_eq!(added["addHousehold"]["unit"]["code"], "990101001001001");
    assert_eq!(unit_counts(server, "990101001001001"), (1, 4));
    assert_eq!(unit_counts(server, "9901"), (1, 4));

    // PostgreSQL cannot store U+0000: refused up front, naming the field, on every backend.
    for (id, building, field) in [("x\0", "B9", "id"), ("x2", "B\0", "building")] {
        let refused = server.graphql(
            "mutation($id: ID!, $building: String) { addHousehold(id: $id, lon: 104.05, lat: 30.75, building: $building) { id } }",
            json!({"id": id, "building": building}),
        );
        assert_eq!(error_code(&refused), "INVALID_INPUT", "{refused:#}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], field);
    }
    assert_eq!(unit_counts(server, "9901"), (1, 4), "nothing written");

    let moved = server.query(
        r#"mutation { moveHousehold(id: "x1", lon: 104.35, lat: 30.65) { unit { code } } }"#,
        json!({}),
    );
    assert_eq!(moved["moveHousehold"]["unit"]["code"], "990102001002002");
    assert_eq!(unit_counts(server, "990101001001001"), (0, 0));
    assert_eq!(unit_counts(server, "990101"), (0, 0));
    assert_eq!(unit_counts(server, "990102001002002"), (1, 4));
    assert_eq!(unit_counts(server, "9901"), (1, 4));

    let duplicate = server.graphql(
        r#"mutation { addHousehold(id: "x1", lon: 104.05, lat: 30.75) { id } }"#,
        json!({}),
    );
    assert_eq!(error_code(&duplicate), "CONFLICT", "{duplicate:#}");
    let nowhere = server.graphql(
        r#"mutation { moveHousehold(id: "x1", lon: 104.05, lat: 95.0) { id } }"#,
        json!({}),
    );
    assert_eq!(error_code(&nowhere), "INVALID_INPUT", "{nowhere:#}");
    let missing = server.graphql(
        r#"mutation { removeHousehold(id: "nobody") { id } }"#,
        json!({}),
    );
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing:#}");

    server.query(
        r#"mutation { removeHousehold(id: "x1") { id } }"#,
        json!({}),
    );
    assert_eq!(unit_counts(server, "990102001002002"), (0, 0));
    assert_eq!(unit_counts(server, "9901"), (0, 0));
}
