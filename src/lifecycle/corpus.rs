//! A corpus of malformed items, as console users and buggy scripts write them (the test kit
//! holds it: [`crate::testing::corpus`]). Each must end as `status = invalid` with a message
//! naming the attribute: never a panic, never a loop.

use serde_dynamo::AttributeValue;

use super::*;
use crate::testing::corpus::malformed_items as corpus;

#[test]
fn bad_input_never_poisons_every_malformed_item_becomes_invalid_naming_its_attribute() {
    let cases = corpus();
    assert!(cases.len() >= 30);
    for (item, attribute) in cases {
        let image = Image::decode(&item);
        let action = on_change(
            None,
            Some(&image),
            "t",
            chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::days(20_000),
            &crate::jobs::builtin(),
            &Policy::default(),
        );
        let ChangeAction::MarkInvalid(update) = action else {
            panic!("{attribute}: expected the item to be marked invalid, got {action:?}");
        };
        let Some(AttributeValue::S(message)) = update.value(attr::LAST_RUN_MESSAGE) else {
            panic!("{attribute}: no message")
        };
        assert!(
            message.starts_with(&format!("invalid: {attribute}")),
            "{attribute}: {message:?}"
        );
        assert!(
            message.len() <= MAX_MESSAGE_BYTES,
            "{attribute}: message of {} bytes",
            message.len()
        );
        // The mark's own stream record changes nothing further.
        let marked = update.apply(Some(&item)).unwrap();
        let again = on_change(
            Some(&image),
            Some(&Image::decode(&marked)),
            "t2",
            chrono::DateTime::UNIX_EPOCH + chrono::TimeDelta::days(20_000),
            &crate::jobs::builtin(),
            &Policy::default(),
        );
        assert!(
            matches!(again, ChangeAction::Ignore(_)),
            "{attribute}: the mark's own record led to {again:?}"
        );
    }
}
