//! Live updates: a map subscribed over WebSocket (graphql-transport-ws) hears when a grid
//! system changes, with its new version.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::Message;

use crate::fixtures::*;
use crate::server::Server;

crate::on_every_backend!(an_open_map_hears_of_each_import_with_the_new_version);

fn an_open_map_hears_of_each_import_with_the_new_version(server: &Server) {
    let host = server
        .base
        .strip_prefix("http://")
        .expect("an http address")
        .to_owned();
    let mut request = format!("ws://{host}/graphql")
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let stream = TcpStream::connect(&host).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("a timeout");
    let (mut socket, _) = tungstenite::client(request, stream).expect("a WebSocket");
    let send = |socket: &mut tungstenite::WebSocket<TcpStream>, value: Value| {
        socket.send(Message::text(value.to_string())).expect("sent");
    };
    let receive = |socket: &mut tungstenite::WebSocket<TcpStream>| -> Value {
        loop {
            match socket.read().expect("a message before the timeout") {
                Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    send(&mut socket, json!({"type": "connection_init"}));
    assert_eq!(receive(&mut socket)["type"], "connection_ack");
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe",
               "payload": {"query": "subscription { gridSystemChanged { id name version isDefault } }"}}),
    );
    // The subscription is registered once the server answers a ping on the same socket.
    send(&mut socket, json!({"type": "ping"}));
    assert_eq!(receive(&mut socket)["type"], "pong");

    let version = |server: &Server| {
        server.query("{ gridSystems { version } }", json!({}))["gridSystems"][0]["version"].clone()
    };
    server.query(IMPORT_UNITS, json!({"level": "CITY", "fc": city()}));
    let heard = receive(&mut socket);
    assert_eq!(heard["type"], "next", "{heard}");
    assert_eq!(
        heard["payload"]["data"]["gridSystemChanged"]["version"],
        version(server)
    );
    server.query(
        IMPORT_UNITS,
        json!({"level": "DISTRICT", "fc": districts()}),
    );
    let heard = receive(&mut socket);
    assert_eq!(
        heard["payload"]["data"]["gridSystemChanged"]["version"],
        version(server)
    );
    assert_eq!(
        heard["payload"]["data"]["gridSystemChanged"]["isDefault"],
        true
    );
}
