//! The stream mapping's part: which records reach the dispatcher (the template's filter), and
//! what becomes of a batch the dispatcher answered (done up to the first failed record; that one
//! tried again, or set aside after its last attempt).

use std::collections::HashMap;

use aws_lambda_events::dynamodb::EventRecord;
use aws_lambda_events::streams::DynamoDbEventResponse;

use super::mapping::STREAM_ATTEMPTS;
use crate::stream_filter;

/// The template's filter patterns, ready to apply.
pub struct Filter(Vec<serde_json::Value>);

impl Default for Filter {
    fn default() -> Self {
        Filter(stream_filter::patterns())
    }
}

impl Filter {
    /// Whether `record` reaches the dispatcher; the mapping consumes the others without it.
    pub fn passes(&self, record: &EventRecord) -> bool {
        serde_json::to_value(record).is_ok_and(|json| stream_filter::passes(&self.0, &json))
    }
}

/// What became of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    /// How many records from the batch's start are done with (the checkpoint moves past them).
    pub done: usize,
    /// The position of a record set aside after its last attempt (counted in `done`).
    pub set_aside: Option<usize>,
}

/// Counts each failing record's attempts, as the mapping does, by sequence number.
#[derive(Debug, Default)]
pub struct Retries {
    attempts: HashMap<String, u32>,
}

impl Retries {
    /// Settles `batch`, which the dispatcher answered with `response`. With no failure the
    /// whole batch is done. A failure is reported as its earliest record: the records before it
    /// are done and the batch resumes at it, unless that was its last attempt
    /// ([`STREAM_ATTEMPTS`]), when it is set aside and the batch resumes after it. A failure
    /// naming no record of the batch resumes at the batch's start (as Lambda retries a whole
    /// batch whose answer it cannot read).
    pub fn settle(&mut self, batch: &[EventRecord], response: &DynamoDbEventResponse) -> Settled {
        let Some(failure) = response.batch_item_failures.first() else {
            return Settled {
                done: batch.len(),
                set_aside: None,
            };
        };
        let failed = failure.item_identifier.as_deref().unwrap_or_default();
        let at = batch
            .iter()
            .position(|r| r.change.sequence_number.as_deref() == Some(failed))
            .unwrap_or(0);
        let key = batch
            .get(at)
            .and_then(|r| r.change.sequence_number.clone())
            .unwrap_or_default();
        let attempts = self.attempts.entry(key.clone()).or_insert(0);
        *attempts += 1;
        if *attempts < STREAM_ATTEMPTS {
            return Settled {
                done: at,
                set_aside: None,
            };
        }
        self.attempts.remove(&key);
        Settled {
            done: at + 1,
            set_aside: Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::streams::DynamoDbBatchItemFailure;

    use super::*;

    fn batch(n: usize) -> Vec<EventRecord> {
        (0..n)
            .map(|i| {
                let mut record = EventRecord::default();
                record.change.sequence_number = Some(format!("{i:03}"));
                record
            })
            .collect()
    }

    fn failing(sequence: &str) -> DynamoDbEventResponse {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence.to_owned());
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures.push(failure);
        response
    }

    #[test]
    fn a_batch_is_done_up_to_its_failure_which_is_set_aside_after_its_last_attempt() {
        let records = batch(5);
        let mut retries = Retries::default();
        let ok = DynamoDbEventResponse::default();
        assert_eq!(retries.settle(&records, &ok).done, 5);
        for _ in 1..STREAM_ATTEMPTS {
            let settled = retries.settle(&records[2..], &failing("003"));
            assert_eq!(
                settled,
                Settled {
                    done: 1,
                    set_aside: None
                }
            );
        }
        let settled = retries.settle(&records[3..], &failing("003"));
        assert_eq!(
            settled,
            Settled {
                done: 1,
                set_aside: Some(0)
            }
        );
        // Its count is forgotten once it is set aside.
        let settled = retries.settle(&records[3..], &failing("003"));
        assert_eq!(
            settled,
            Settled {
                done: 0,
                set_aside: None
            }
        );
        // A failure naming no record resumes at the start, and counts against that record.
        assert_eq!(retries.settle(&records, &failing("999")).done, 0);
    }
}
