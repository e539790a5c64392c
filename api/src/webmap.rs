//! The built-in web map at `GET /map`: one page (`assets/map/index.html`, `map.js`, `map.css`)
//! over MapLibre GL JS, all embedded in the binary, so the map works from a fresh clone with no
//! node and no network. The page draws the default system's vector tiles (`/tiles/{system}.json`,
//! see `tiles`), asks GraphQL `locate` for a clicked point's chain, and with `?plan=<id>` draws
//! `/geojson/plans/{id}` over the current grids.
//!
//! MapLibre's minified build under `assets/map/vendor/` is copied from npm by
//! `webmap/build.sh`; nothing here reads files at run time.
//!
//! Asset URLs carry a hash of their content (`?v=…`): a request with the current hash is
//! cacheable for a year, any other is revalidated by `ETag`. The page itself is never cached,
//! so a new binary's page always names its own assets.

use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Path, Query};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;

/// One embedded file served under `/map/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "map.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/map/map.js"),
    },
    Asset {
        name: "map.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/map/map.css"),
    },
    Asset {
        name: "maplibre-gl.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/map/vendor/maplibre-gl.js"),
    },
    Asset {
        name: "maplibre-gl.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/map/vendor/maplibre-gl.css"),
    },
    Asset {
        name: "maplibre-gl.LICENSE.txt",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("../assets/map/vendor/maplibre-gl.LICENSE.txt"),
    },
];

/// The page, with `{{name}}` placeholders for the versioned URLs of the assets.
const PAGE_TEMPLATE: &str = include_str!("../assets/map/index.html");

/// A year: the longest a versioned asset is kept.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The content hash of each asset, in the order of `ASSETS`.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| format!("{:016x}", fnv1a(asset.body)))
        .collect()
});

/// The page with its asset URLs filled in.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    ASSETS
        .iter()
        .zip(VERSIONS.iter())
        .fold(PAGE_TEMPLATE.to_owned(), |page, (asset, version)| {
            page.replace(
                &format!("{{{{{}}}}}", asset.name),
                &format!("/map/assets/{}?v={version}", asset.name),
            )
        })
});

/// Registers `GET /map` and `GET /map/assets/{name}`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/map", web::get().to(page))
        .route("/map/assets/{name}", web::get().to(asset));
}

async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE.as_str())
}

#[derive(Debug, Deserialize)]
struct AssetQuery {
    v: Option<String>,
}

async fn asset(request: HttpRequest, name: Path<String>, query: Query<AssetQuery>) -> HttpResponse {
    let Some((asset, version)) = ASSETS
        .iter()
        .zip(VERSIONS.iter())
        .find(|(asset, _)| asset.name == name.as_str())
    else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no map asset is called {:?}", name.as_str()));
    };
    let etag = format!("\"{version}\"");
    let cache = if query.v.as_deref() == Some(version.as_str()) {
        IMMUTABLE
    } else {
        "no-cache"
    };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::ETAG, etag.as_str()));
    if fresh {
        return response.finish();
    }
    response
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ))
        .body(asset.body)
}

/// FNV-1a, 64 bits: a stable fingerprint of an asset for its URL and `ETag`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use actix_web::{test, App};

    use super::*;

    #[actix_web::test]
    async fn the_page_names_every_asset_by_its_current_version() {
        assert!(!PAGE.contains("{{"), "a placeholder is left: {}", *PAGE);
        let app = test::init_service(App::new().configure(configure)).await;
        for (asset, version) in ASSETS.iter().zip(VERSIONS.iter()) {
            let url = format!("/map/assets/{}?v={version}", asset.name);
            assert!(PAGE.contains(&url), "the page does not load {url}");
            let response =
                test::call_service(&app, test::TestRequest::get().uri(&url).to_request()).await;
            assert_eq!(response.status(), 200, "{url}");
            assert_eq!(
                response.headers().get(header::CACHE_CONTROL),
                Some(&HeaderValue::from_static(IMMUTABLE)),
                "{url}"
            );
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE),
                Some(&HeaderValue::from_static(asset.content_type))
            );
        }
    }

    #[actix_web::test]
    async fn unversioned_assets_are_revalidated_and_unknown_ones_are_not_found() {
        let app = test::init_service(App::new().configure(configure)).await;
        let response = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/map/assets/map.js")
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get(header::CACHE_CONTROL),
            Some(&HeaderValue::from_static("no-cache"))
        );
        let etag = response
            .headers()
            .get(header::ETAG)
            .cloned()
            .expect("an ETag");
        let again = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/map/assets/map.js")
                .insert_header((header::IF_NONE_MATCH, etag))
                .to_request(),
        )
        .await;
        assert_eq!(again.status(), 304);
        let missing = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/map/assets/../Cargo.toml")
                .to_request(),
        )
        .await;
        assert_eq!(missing.status(), 404);
    }
}
