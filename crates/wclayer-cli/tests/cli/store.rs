//! `wclayer store ls|rm|prune`: a store with two images on one base, listed, one removed
//! with the layer only it used, the rest pruned once no record names it.

use serde_json::Value;

use super::images::{failed, json_of, ok, run, two_images};

#[test]
fn a_store_lists_its_images_and_removes_them_with_the_layers_only_they_use() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    two_images(d);
    let app: Value = json_of(d, &["unpack", "--json", "oci:app:v1", "store"]);
    ok(d, &["unpack", "-q", "oci:base:v1", "store"]);
    let base_layer = app["layers"][0]["chain_id"].as_str().unwrap().to_string();
    let app_layer = app["layers"][1]["chain_id"].as_str().unwrap().to_string();
    let app_id = app["manifest"].as_str().unwrap().to_string();

    let text = ok(d, &["store", "ls", "store"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0].starts_with("IMAGE") && lines[0].contains("PLATFORM"),
        "{text}"
    );
    assert!(lines[1].starts_with("oci:app:v1 "), "{text}");
    assert!(lines[1].contains(&app_id[7..19]), "{text}");
    assert!(lines[1].contains("windows/amd64:10.0.20348.1") && lines[1].ends_with(" 2"));
    assert!(
        lines[2].starts_with("oci:base:v1 ") && lines[2].ends_with(" 1"),
        "{text}"
    );
    assert_eq!(lines[3], "2 images in store, 2 layers");

    let listed: Value = json_of(d, &["store", "ls", "--json", "store"]);
    assert_eq!(listed["images"][0]["image"], "oci:app:v1");
    assert_eq!(listed["images"][0]["id"], app_id.as_str());
    assert_eq!(listed["images"][0]["layers"][1], app_layer.as_str());
    assert_eq!(listed["layers"], 2);
    assert_eq!(listed["unused"], serde_json::json!([]));

    // Nothing matched: one line, nothing removed; a short id is told what an id needs.
    let out = run(d, &["store", "rm", "store", "oci:nope:v1"]);
    failed(&out, &["no image oci:nope:v1", "store ls"]);
    let out = run(d, &["store", "rm", "store", &app_id[7..14]]);
    failed(&out, &["12 or more"]);
    assert_eq!(
        json_of(d, &["store", "ls", "--json", "store"])["images"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let text = ok(d, &["store", "rm", "store", "oci:app:v1"]);
    assert!(
        text.contains(&format!("removed image oci:app:v1 ({app_id})")),
        "{text}"
    );
    assert!(text.contains(&format!(
        "removed layer store/layers/sha256/{}",
        &app_layer[7..]
    )));
    assert!(
        text.ends_with(
            "removed 1 image and 1 layer from store; 1 layer kept (used by the images left)\n"
        ),
        "{text}"
    );
    assert!(!d.join("store/layers/sha256").join(&app_layer[7..]).exists());
    assert!(
        d.join("store/layers/sha256")
            .join(&base_layer[7..])
            .is_dir()
    );

    // The base's record removed by hand: its layer is unused, listed so, and pruned.
    let base_record = listed["images"][1]["id"].as_str().unwrap()[7..].to_string();
    std::fs::remove_file(d.join(format!("store/images/sha256/{base_record}.json"))).unwrap();
    let text = ok(d, &["store", "ls", "store"]);
    assert!(
        text.ends_with(
            "0 images in store, 1 layer (1 no image uses: `wclayer store prune` removes it)\n"
        ),
        "{text}"
    );
    let pruned: Value = json_of(d, &["store", "prune", "--json", "store"]);
    assert_eq!(pruned["layers"], serde_json::json!([base_layer]));
    assert_eq!(pruned["kept"], 0);
    assert_eq!(
        std::fs::read_dir(d.join("store/layers/sha256"))
            .unwrap()
            .count(),
        0
    );

    let out = run(d, &["store", "ls", "oci:app:v1"]);
    failed(&out, &["oci:app:v1"]);
    std::fs::create_dir(d.join("empty")).unwrap();
    let out = run(d, &["store", "prune", "empty"]);
    failed(&out, &["empty is not a wclayer image store"]);
}
