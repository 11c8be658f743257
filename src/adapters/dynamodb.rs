//! DynamoDB's adapter of the store seam ([`WorkerStore`]): applies the lifecycle's conditional
//! updates to worker items, writes and reads run records, and creates workers for the `spawn`
//! job ([`WorkerWriter`]).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue as SdkValue, ReturnValue, ReturnValuesOnConditionCheckFailure,
};

use crate::adapters::sdk_error;
use crate::item::{AttributeValue, Item, RunRecord, attr};
use crate::lifecycle::{Change, Condition, Retry, Update};
use crate::seams::{
    Applied, Created, JobError, Page, RunWrite, StoreError, WorkerStore, WorkerWriter,
};
use crate::timestamp::Due;

/// The workers table's sparse index of live workers, read by the sweeper.
pub const SWEEP_INDEX: &str = "sweep";

/// Which run records of a worker to read ([`Store::runs`]); the default is all of them,
/// oldest first.
#[derive(Clone, Debug, Default)]
pub struct RunQuery {
    /// Only runs that started at or after this run-record stamp.
    pub since: Option<String>,
    /// Newest first.
    pub newest_first: bool,
    /// Only failed runs.
    pub failed_only: bool,
    /// At most this many.
    pub limit: Option<usize>,
}

/// The workers and runs tables.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    workers_table: String,
    runs_table: String,
}

/// Where a scan of the workers table goes on: the key its last page ended at.
#[derive(Clone, Debug)]
pub struct ScanStart(HashMap<String, SdkValue>);

/// One page of a scan of the workers table.
#[derive(Clone, Debug)]
pub struct ScanPage {
    /// The items that passed the scan's filter.
    pub items: Vec<Item>,
    /// Where the next page starts (`None`: this was the last).
    pub next: Option<ScanStart>,
    /// How many items the page read, before the filter.
    pub read: usize,
}

fn to_sdk(value: &AttributeValue) -> SdkValue {
    SdkValue::from(value.clone())
}

/// An update rendered for `UpdateItem`: the expressions and their placeholders.
struct Rendered {
    update: String,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, SdkValue>,
}

fn render(update: &Update) -> Rendered {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    for (i, (name, change)) in update.changes.iter().enumerate() {
        let placeholder = format!("#u{i}");
        names.insert(placeholder.clone(), (*name).to_owned());
        match change {
            Change::Set(value) => {
                values.insert(format!(":u{i}"), to_sdk(value));
                sets.push(format!("{placeholder} = :u{i}"));
            }
            Change::SetIfMissing(value) => {
                values.insert(format!(":u{i}"), to_sdk(value));
                sets.push(format!(
                    "{placeholder} = if_not_exists({placeholder}, :u{i})"
                ));
            }
            Change::Remove => removes.push(placeholder),
        }
    }
    let mut expression = Vec::new();
    if !sets.is_empty() {
        expression.push(format!("SET {}", sets.join(", ")));
    }
    if !removes.is_empty() {
        expression.push(format!("REMOVE {}", removes.join(", ")));
    }
    let mut counter = 0;
    let condition = render_condition(&update.condition, &mut names, &mut values, &mut counter);
    Rendered {
        update: expression.join(" "),
        condition,
        names,
        values,
    }
}

fn render_condition(
    condition: &Condition,
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, SdkValue>,
    counter: &mut usize,
) -> String {
    match condition {
        Condition::Equals(name, value) => {
            *counter += 1;
            names.insert(format!("#c{counter}"), (*name).to_owned());
            values.insert(format!(":c{counter}"), to_sdk(value));
            format!("#c{counter} = :c{counter}")
        }
        Condition::Missing(name) => {
            *counter += 1;
            names.insert(format!("#c{counter}"), (*name).to_owned());
            format!("attribute_not_exists(#c{counter})")
        }
        Condition::Not(inner) => format!(
            "(NOT ({}))",
            render_condition(inner, names, values, counter)
        ),
        Condition::All(all) => {
            let parts: Vec<String> = all
                .iter()
                .map(|c| render_condition(c, names, values, counter))
                .collect();
            format!("({})", parts.join(" AND "))
        }
    }
}

/// A failed DynamoDB call as the store seam's error: `Refused` when sending it again cannot help.
pub(crate) fn store_error<E, R>(
    operation: &'static str,
    table: &str,
    error: SdkError<E, R>,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let table = table.to_owned();
    if sdk_error::code_is(&error, &["ValidationException"]) {
        StoreError::Refused {
            operation,
            table,
            message: sdk_error::message(error),
        }
    } else {
        StoreError::Call {
            operation,
            table,
            message: sdk_error::message(error),
        }
    }
}

impl Store {
    /// The store over these tables.
    pub fn new(
        client: Client,
        workers_table: impl Into<String>,
        runs_table: impl Into<String>,
    ) -> Self {
        Store {
            client,
            workers_table: workers_table.into(),
            runs_table: runs_table.into(),
        }
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        &self,
        operation: &'static str,
        table: &str,
        error: SdkError<E, R>,
    ) -> StoreError {
        store_error(operation, table, error)
    }

    /// A record of the runs table that does not decode, as the error of `operation`.
    fn undecodable(&self, operation: &'static str, error: impl std::fmt::Display) -> StoreError {
        StoreError::Call {
            operation,
            table: self.runs_table.clone(),
            message: format!("a run record does not decode: {error}"),
        }
    }

    /// Writes `item` to `table`; with `only_new`, only if no item has its key. Returns the
    /// item that has its key when that stopped the write.
    async fn put(
        &self,
        table: &str,
        item: Item,
        only_new: Option<&str>,
    ) -> Result<Option<Item>, StoreError> {
        let item: HashMap<String, SdkValue> = item.into();
        let mut request = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item));
        if let Some(key) = only_new {
            request = request
                .condition_expression("attribute_not_exists(#key)")
                .expression_attribute_names("#key", key)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
        }
        match request.send().await {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                let PutItemError::ConditionalCheckFailedException(failure) = service.err() else {
                    unreachable!("checked above")
                };
                Ok(Some(
                    failure.item().cloned().map(Item::from).unwrap_or_default(),
                ))
            }
            Err(error) => Err(self.error("PutItem", table, error)),
        }
    }

    /// The run records of `worker_id` that `query` asks for (consistent reads).
    pub async fn runs(
        &self,
        worker_id: &str,
        query: &RunQuery,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.runs_table)
            .expression_attribute_names("#w", attr::run::WORKER_ID)
            .expression_attribute_values(":w", SdkValue::S(worker_id.to_owned()))
            .scan_index_forward(!query.newest_first)
            .consistent_read(true);
        request = match &query.since {
            Some(since) => request
                .key_condition_expression("#w = :w AND #r >= :since")
                .expression_attribute_names("#r", attr::run::RUN_ID)
                .expression_attribute_values(":since", SdkValue::S(since.clone())),
            None => request.key_condition_expression("#w = :w"),
        };
        if query.failed_only {
            request = request
                .filter_expression("#s = :f")
                .expression_attribute_names("#s", attr::run::SUCCEEDED)
                .expression_attribute_values(":f", SdkValue::Bool(false));
        }
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut found = request.into_paginator().items().send();
        let mut runs = Vec::new();
        while runs.len() < limit
            && let Some(item) = found.next().await
        {
            let item = item.map_err(|e| self.error("Query", &self.runs_table, e))?;
            let record = RunRecord::from_item(&Item::from(item))
                .map_err(|e| self.undecodable("Query", e))?;
            runs.push(record);
        }
        Ok(runs)
    }

    /// Every worker item whose attributes equal `equal`'s (all of them: a consistent scan,
    /// page by page), telling `progress` how many it has read after each page.
    pub async fn workers(
        &self,
        equal: &[(&str, String)],
        progress: &mut (dyn FnMut(usize) + Send),
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self.workers_page(equal, start).await?;
            items.extend(page.items);
            progress(items.len());
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// One page of the worker items whose attributes equal `equal`'s (a consistent scan from
    /// `start`, `None` for the first page). A page reads at most 1 MB of the table, however
    /// few items match.
    pub async fn workers_page(
        &self,
        equal: &[(&str, String)],
        start: Option<ScanStart>,
    ) -> Result<ScanPage, StoreError> {
        let mut request = self
            .client
            .scan()
            .table_name(&self.workers_table)
            .consistent_read(true)
            .set_exclusive_start_key(start.map(|s| s.0));
        if !equal.is_empty() {
            let mut filters = Vec::new();
            for (i, (name, value)) in equal.iter().enumerate() {
                filters.push(format!("#f{i} = :f{i}"));
                request = request
                    .expression_attribute_names(format!("#f{i}"), *name)
                    .expression_attribute_values(format!(":f{i}"), SdkValue::S(value.clone()));
            }
            request = request.filter_expression(filters.join(" AND "));
        }
        let page = request
            .send()
            .await
            .map_err(|e| self.error("Scan", &self.workers_table, e))?;
        let items = page.items.unwrap_or_default().into_iter().map(Item::from);
        Ok(ScanPage {
            items: items.collect(),
            next: page.last_evaluated_key.map(ScanStart),
            read: usize::try_from(page.scanned_count).unwrap_or(0),
        })
    }

    /// Writes whole worker items (each as `put_worker` does) in batches of 25, again for any
    /// DynamoDB left unprocessed, until all are written.
    pub async fn put_workers(&self, items: Vec<Item>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        let mut waiting: Vec<WriteRequest> = Vec::new();
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item.into()))
                .build()
                .expect("a put request with an item builds");
            waiting.push(WriteRequest::builder().put_request(put).build());
        }
        let mut backoff = std::time::Duration::from_millis(50);
        while !waiting.is_empty() {
            let batch: Vec<WriteRequest> = waiting.drain(..waiting.len().min(25)).collect();
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.workers_table, batch)
                .send()
                .await
                .map_err(|e| self.error("BatchWriteItem", &self.workers_table, e))?;
            let unprocessed = output
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.workers_table))
                .unwrap_or_default();
            if unprocessed.is_empty() {
                backoff = std::time::Duration::from_millis(50);
            } else {
                waiting.extend(unprocessed);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
        }
        Ok(())
    }

    /// Sets attributes of the existing worker `id` (each a path, `params.to` as two names) in
    /// one write; returns the item as it was, or `None` (nothing written) when there is none.
    pub async fn update_existing(
        &self,
        id: &str,
        assignments: &[(Vec<String>, AttributeValue)],
    ) -> Result<Option<Item>, StoreError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.workers_table)
            .key(attr::ID, SdkValue::S(id.to_owned()))
            .condition_expression("attribute_exists(#id)")
            .expression_attribute_names("#id", attr::ID)
            .return_values(ReturnValue::AllOld);
        let mut sets = Vec::new();
        for (i, (path, value)) in assignments.iter().enumerate() {
            let mut names = Vec::new();
            for (j, name) in path.iter().enumerate() {
                let placeholder = format!("#p{i}_{j}");
                request = request.expression_attribute_names(&placeholder, name);
                names.push(placeholder);
            }
            request = request.expression_attribute_values(format!(":v{i}"), to_sdk(value));
            sets.push(format!("{} = :v{i}", names.join(".")));
        }
        match request
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
        {
            Ok(output) => Ok(Some(Item::from(output.attributes.unwrap_or_default()))),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                Ok(None)
            }
            Err(error) => Err(self.error("UpdateItem", &self.workers_table, error)),
        }
    }

    /// Writes a whole worker item (for users, tests and the demo: the way a console would).
    pub async fn put_worker(&self, item: Item) -> Result<(), StoreError> {
        self.put(&self.workers_table, item, None).await.map(|_| ())
    }
}

#[async_trait]
impl WorkerStore for Store {
    /// Applies one conditional update in one request; a failed condition returns the item as it
    /// stood, so the caller learns why without a second read.
    async fn apply(&self, update: &Update) -> Result<Applied, StoreError> {
        let rendered = render(update);
        let result = self
            .client
            .update_item()
            .table_name(&self.workers_table)
            .key(attr::ID, SdkValue::S(update.id.clone()))
            .update_expression(rendered.update)
            .condition_expression(rendered.condition)
            .set_expression_attribute_names(Some(rendered.names))
            .set_expression_attribute_values(Some(rendered.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Applied::Written(Item::from(
                output.attributes.unwrap_or_default(),
            ))),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                let UpdateItemError::ConditionalCheckFailedException(failure) = service.err()
                else {
                    unreachable!("checked above")
                };
                Ok(Applied::Refused(failure.item().cloned().map(Item::from)))
            }
            Err(error) => Err(self.error("UpdateItem", &self.workers_table, error)),
        }
    }

    /// Writes (or overwrites) a run record.
    async fn put_run(&self, record: &RunRecord) -> Result<(), StoreError> {
        self.put(&self.runs_table, record.to_item(), None)
            .await
            .map(|_| ())
    }

    /// Writes a run record unless one with its key exists (the sweeper's record of a lost run
    /// must not overwrite the run's own, written just before its executor died); the existing
    /// record comes back with the refusal, without a second read.
    async fn put_run_if_absent(&self, record: &RunRecord) -> Result<RunWrite, StoreError> {
        let Some(existing) = self
            .put(&self.runs_table, record.to_item(), Some(attr::run::RUN_ID))
            .await?
        else {
            return Ok(RunWrite::Written);
        };
        RunRecord::from_item(&existing)
            .map(RunWrite::Exists)
            .map_err(|e| self.undecodable("PutItem", e))
    }

    /// The worker item `id`, as stored (consistent read).
    async fn get_worker(&self, id: &str) -> Result<Option<Item>, StoreError> {
        self.client
            .get_item()
            .table_name(&self.workers_table)
            .key(attr::ID, SdkValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map(|output| output.item.map(Item::from))
            .map_err(|e| self.error("GetItem", &self.workers_table, e))
    }

    /// One page of live workers in `shard` that the sweeper should look at before `now`
    /// (eventually consistent, like every index read; the sweeper's writes are conditional).
    async fn overdue(
        &self,
        shard: u32,
        now: Due,
        limit: i32,
        start: Option<Item>,
    ) -> Result<Page, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.workers_table)
            .index_name(SWEEP_INDEX)
            .key_condition_expression("#shard = :shard AND #at < :now")
            .expression_attribute_names("#shard", attr::SWEEP_SHARD)
            .expression_attribute_names("#at", attr::SWEEP_AT)
            .expression_attribute_values(":shard", SdkValue::N(shard.to_string()))
            .expression_attribute_values(":now", SdkValue::S(now.to_string()))
            .limit(limit)
            .set_exclusive_start_key(start.map(HashMap::from))
            .send()
            .await
            .map_err(|e| self.error("Query", &self.workers_table, e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Item::from)
            .collect();
        Ok((items, output.last_evaluated_key.map(Item::from)))
    }
}

#[async_trait]
impl WorkerWriter for Store {
    async fn create(&self, item: &Item) -> Result<Created, JobError> {
        let put = self.put(&self.workers_table, item.clone(), Some(attr::ID));
        let (message, retry) = match put.await {
            Ok(None) => return Ok(Created::Written),
            Ok(Some(existing)) => return Ok(Created::Exists(existing)),
            Err(StoreError::Refused { message, .. } | StoreError::Malformed { message, .. }) => {
                (message, Retry::Never)
            }
            Err(StoreError::Call { message, .. }) => (message, Retry::Backoff),
        };
        // The reason first: an id's end says little, and messages are cut at 1 KB.
        Err(JobError::new(
            format!("DynamoDB refused the new worker: {message}"),
            retry,
        ))
    }
}
