//! Reading what the service publishes, through its own sidecar: a streaming subscription
//! (`SubscribeTopicEventsAlpha1`) opened by the test. It needs no extra app and no second sidecar,
//! and works with every pub/sub component, in-memory included, because it is the same sidecar
//! the service publishes through.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use dapr::dapr::proto::runtime::v1::subscribe_topic_events_request_alpha1::SubscribeTopicEventsRequestType;
use dapr::dapr::proto::runtime::v1::subscribe_topic_events_response_alpha1::SubscribeTopicEventsResponseType;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use dapr::dapr::proto::runtime::v1::{
    SubscribeTopicEventsRequestAlpha1, SubscribeTopicEventsRequestInitialAlpha1,
    SubscribeTopicEventsRequestProcessedAlpha1, SubscribeTopicEventsResponseAlpha1,
    TopicEventRequest, TopicEventResponse,
};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::codec::Streaming;

use crate::sidecar::Sidecar;

/// One CloudEvent received from a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    /// The CloudEvent id.
    pub id: String,
    /// The CloudEvent type, e.g. `stock.created`.
    pub event_type: String,
    /// The CloudEvent source (the publishing app id).
    pub source: String,
    /// The media type of [`ReceivedEvent::data`] as published.
    pub data_content_type: String,
    /// The payload as JSON. The state store outbox publishes JSON as text (`text/plain`); that
    /// text is parsed here, so tests see the domain event itself.
    pub data: serde_json::Value,
}

impl ReceivedEvent {
    fn from_request(event: TopicEventRequest) -> Self {
        Self {
            id: event.id,
            event_type: event.r#type,
            source: event.source,
            data_content_type: event.data_content_type,
            data: payload(&event.data),
        }
    }
}

/// JSON as JSON; JSON inside a JSON string parsed once more; anything else as a string.
fn payload(bytes: &[u8]) -> serde_json::Value {
    match serde_json::from_slice(bytes) {
        Ok(serde_json::Value::String(text)) => {
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        Ok(value) => value,
        Err(_) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
    }
}

/// A live subscription to one topic. A background task acknowledges every event the moment it
/// arrives (SUCCESS), so the sidecar never redelivers it and never waits for the test: with the
/// in-memory pub/sub a publisher is held until its subscribers have answered. Events queue up
/// until [`EventStream::next`] takes them.
pub struct EventStream {
    topic: String,
    received: mpsc::UnboundedReceiver<anyhow::Result<ReceivedEvent>>,
    pump: JoinHandle<()>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl EventStream {
    /// Subscribes to `topic` on pub/sub component `pubsub` of `sidecar`. Returns once the sidecar
    /// has confirmed the subscription: events published from then on are received.
    pub async fn subscribe(sidecar: &Sidecar, pubsub: &str, topic: &str) -> anyhow::Result<Self> {
        let (requests, outbound) = unbounded();
        let initial = SubscribeTopicEventsRequestAlpha1 {
            subscribe_topic_events_request_type: Some(
                SubscribeTopicEventsRequestType::InitialRequest(
                    SubscribeTopicEventsRequestInitialAlpha1 {
                        pubsub_name: pubsub.to_owned(),
                        topic: topic.to_owned(),
                        metadata: Default::default(),
                        dead_letter_topic: None,
                    },
                ),
            ),
        };
        requests
            .unbounded_send(initial)
            .expect("the receiver is alive");
        let mut inbound = sidecar
            .grpc_client()
            .await?
            .subscribe_topic_events_alpha1(outbound)
            .await
            .with_context(|| format!("subscribing to {pubsub}/{topic}"))?
            .into_inner();
        match inbound.message().await? {
            Some(SubscribeTopicEventsResponseAlpha1 {
                subscribe_topic_events_response_type:
                    Some(SubscribeTopicEventsResponseType::InitialResponse(_)),
            }) => {}
            other => bail!(
                "subscribing to {pubsub}/{topic}: expected the initial response, got {other:?}"
            ),
        }
        let (deliver, received) = mpsc::unbounded_channel();
        let pump = tokio::spawn(pump(topic.to_owned(), inbound, requests, deliver));
        Ok(Self {
            topic: topic.to_owned(),
            received,
            pump,
        })
    }

    /// The next event, or an error naming the topic when none arrives within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> anyhow::Result<ReceivedEvent> {
        tokio::time::timeout(timeout, self.receive())
            .await
            .map_err(|_| anyhow!("no event on topic {} within {timeout:?}", self.topic))?
    }

    /// The next `count` events, each within `timeout` of the previous one.
    pub async fn take(
        &mut self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedEvent>> {
        let mut events = Vec::with_capacity(count);
        while events.len() < count {
            let event = self.next(timeout).await.with_context(|| {
                format!("{} of {count} events received: {events:#?}", events.len())
            })?;
            events.push(event);
        }
        Ok(events)
    }

    /// Fails when any event arrives within `period`: proves there is no extra event. The period
    /// must exceed the publication delay of the store's outbox (about one second).
    pub async fn expect_quiet(&mut self, period: Duration) -> anyhow::Result<()> {
        match tokio::time::timeout(period, self.receive()).await {
            Err(_) => Ok(()),
            Ok(Ok(event)) => bail!(
                "expected no more events on {} for {period:?}, got {event:#?}",
                self.topic
            ),
            Ok(Err(error)) => Err(error),
        }
    }

    async fn receive(&mut self) -> anyhow::Result<ReceivedEvent> {
        self.received
            .recv()
            .await
            .unwrap_or_else(|| Err(anyhow!("the subscription to {} has ended", self.topic)))
    }
}

/// Receives events from the sidecar, acknowledges each at once, and hands it to the test; ends
/// (handing over the reason) when the stream fails or the test drops its [`EventStream`].
async fn pump(
    topic: String,
    mut inbound: Streaming<SubscribeTopicEventsResponseAlpha1>,
    requests: UnboundedSender<SubscribeTopicEventsRequestAlpha1>,
    deliver: mpsc::UnboundedSender<anyhow::Result<ReceivedEvent>>,
) {
    loop {
        let event = match inbound.message().await {
            Ok(Some(SubscribeTopicEventsResponseAlpha1 {
                subscribe_topic_events_response_type:
                    Some(SubscribeTopicEventsResponseType::EventMessage(event)),
            })) => event,
            Ok(Some(_)) => continue,
            Ok(None) => {
                let _ = deliver.send(Err(anyhow!(
                    "the sidecar closed the subscription to {topic}"
                )));
                return;
            }
            Err(status) => {
                let _ = deliver.send(Err(anyhow!("the subscription to {topic} failed: {status}")));
                return;
            }
        };
        let processed = SubscribeTopicEventsRequestAlpha1 {
            subscribe_topic_events_request_type: Some(
                SubscribeTopicEventsRequestType::EventProcessed(
                    SubscribeTopicEventsRequestProcessedAlpha1 {
                        id: event.id.clone(),
                        status: Some(TopicEventResponse {
                            status: TopicEventResponseStatus::Success as i32,
                        }),
                    },
                ),
            ),
        };
        if requests.unbounded_send(processed).is_err()
            || deliver
                .send(Ok(ReceivedEvent::from_request(event)))
                .is_err()
        {
            return;
        }
    }
}
