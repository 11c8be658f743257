//! Any item a console user can write: decoding and the dispatcher's decision never panic, and a
//! bad item is always reported with an attribute name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nextdue::item::{Image, Item};
use nextdue::job::Registry;
use nextdue::lifecycle::{ChangeAction, Policy, on_change};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(mut item) = serde_dynamo::to_item::<_, Item>(value) else { return };
    item.insert("id".into(), serde_dynamo::AttributeValue::S("fuzz".into()));
    let image = Image::decode(&item);
    if let Err(error) = &image.worker {
        assert!(!error.attribute.is_empty(), "an error without an attribute: {error}");
    }
    let now = chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::days(20_000);
    let action = on_change(None, Some(&image), "t", now, &Registry::builtin(), &Policy::default());
    if let ChangeAction::Arm(update) | ChangeAction::Stop(update) | ChangeAction::MarkInvalid(update) = action {
        let _ = update.apply(Some(&item));
    }
});
