//! [`TokenLedger`] on DynamoDB: a counter item per installation and UTC day or month
//! (`tokens_pk`), and a mark per counted job (`token_charge_pk`). One `TransactWriteItems`
//! puts the job's mark — on the condition that it is not there yet — and adds the job's
//! tokens to the day's and the month's counters (`ADD`, atomic), so a job counts once:
//! a second add for it fails the condition and changes nothing. Counters and marks expire
//! through the table's TTL a while after their window ([`TOKEN_RECORD_KEEP`]).

use super::keys::{self, EXPIRES_AT};
use super::{DynamoStore, TYPE, key, number, string, unavailable};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use shared::ids::InstallationId;
use shared::job::JobId;
#[cfg(doc)]
use shared::ports::TOKEN_RECORD_KEEP;
use shared::ports::{BudgetPeriod, BudgetWindow, StoreError, TokenLedger, TokensUsed};

/// The counter's tokens.
const TOKENS: &str = "tokens";

/// TTL wants epoch seconds.
fn ttl(ms: u64) -> AttributeValue {
    number(ms.div_ceil(1000))
}

fn counter_key(installation: InstallationId, window: &BudgetWindow) -> super::Item {
    key(
        keys::tokens_pk(installation, window.period.as_str(), &window.label),
        keys::TOKENS_SK,
    )
}

impl DynamoStore {
    fn counter_update(
        &self,
        installation: InstallationId,
        window: &BudgetWindow,
        tokens: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(counter_key(installation, window)))
            .update_expression("ADD #tokens :tokens SET #expires = :expires, #type = :type")
            .expression_attribute_names("#tokens", TOKENS)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":tokens", number(tokens))
            .expression_attribute_values(":expires", ttl(window.keep_until_ms()))
            .expression_attribute_values(":type", string("token_counter"))
            .build()
            .map_err(|err| StoreError::Corrupt(format!("a token counter update: {err}")))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    async fn counted(
        &self,
        installation: InstallationId,
        window: &BudgetWindow,
    ) -> Result<u64, StoreError> {
        let output = self
            .get_request(counter_key(installation, window))
            .send()
            .await
            .map_err(|err| unavailable("reading a token counter", &err))?;
        match output.item.as_ref().and_then(|item| item.get(TOKENS)) {
            None => Ok(0),
            Some(AttributeValue::N(tokens)) => tokens.parse().map_err(|_| {
                StoreError::Corrupt(format!("a token counter holds {tokens:?}, not a count"))
            }),
            Some(_) => Err(StoreError::Corrupt(
                "a token counter's `tokens` is not a number".to_owned(),
            )),
        }
    }
}

impl TokenLedger for DynamoStore {
    async fn add_tokens(
        &self,
        installation: InstallationId,
        job: &JobId,
        tokens: u64,
        at_ms: u64,
    ) -> Result<bool, StoreError> {
        let day = BudgetWindow::containing(BudgetPeriod::Day, at_ms);
        let month = BudgetWindow::containing(BudgetPeriod::Month, at_ms);
        let mut mark = key(keys::token_charge_pk(job), keys::TOKEN_CHARGE_SK);
        mark.insert(TYPE.to_owned(), string("token_charge"));
        mark.insert("installation".to_owned(), number(installation.0));
        mark.insert(TOKENS.to_owned(), number(tokens));
        mark.insert("at_ms".to_owned(), number(at_ms));
        mark.insert(EXPIRES_AT.to_owned(), ttl(month.keep_until_ms()));
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(mark))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|err| StoreError::Corrupt(format!("a token charge: {err}")))?;
        let sent = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(self.counter_update(installation, &day, tokens)?)
            .transact_items(self.counter_update(installation, &month, tokens)?)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service)) => match service.err() {
                // The first item's condition failed: the job's tokens are counted already.
                TransactWriteItemsError::TransactionCanceledException(cancelled)
                    if cancelled
                        .cancellation_reasons()
                        .first()
                        .and_then(|reason| reason.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Ok(false)
                }
                _ => Err(unavailable(
                    "counting a job's tokens",
                    &SdkError::ServiceError(service),
                )),
            },
            Err(err) => Err(unavailable("counting a job's tokens", &err)),
        }
    }

    async fn tokens_used(
        &self,
        installation: InstallationId,
        now_ms: u64,
    ) -> Result<TokensUsed, StoreError> {
        let day = BudgetWindow::containing(BudgetPeriod::Day, now_ms);
        let month = BudgetWindow::containing(BudgetPeriod::Month, now_ms);
        Ok(TokensUsed {
            day: self.counted(installation, &day).await?,
            month: self.counted(installation, &month).await?,
        })
    }
}
