//! `DAPR_API_TOKEN`: a sidecar started with a token refuses calls that do not carry it.

use dapr::dapr::proto::runtime::v1::GetMetadataRequest;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr_harness::{API_TOKEN_HEADER, Daprd, Redis};

const TOKEN: &str = "test-api-token-0f3a";

async fn sidecar_with_token(redis: &Redis) -> Daprd {
    Daprd::builder("token-test")
        .redis(redis)
        .component("state/redis.yaml")
        .api_token(TOKEN)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn http_call_needs_the_token() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar_with_token(&redis).await;
    let url = format!("{}/v1.0/state/statestore/some-key", daprd.http_url());

    let anonymous = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = reqwest::Client::new()
        .get(&url)
        .header(API_TOKEN_HEADER, "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let with_token = daprd.http_client().get(&url).send().await.unwrap();
    assert_eq!(
        with_token.status(),
        204,
        "a missing key with the right token is 204 No Content"
    );

    // Health endpoints stay open: orchestrators probe them without credentials.
    let health = reqwest::Client::new()
        .get(format!("{}/v1.0/healthz", daprd.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 204);
}

#[tokio::test]
async fn grpc_call_needs_the_token() {
    let redis = Redis::start().await.unwrap();
    let daprd = sidecar_with_token(&redis).await;

    let mut anonymous = DaprClient::connect(daprd.grpc_url()).await.unwrap();
    let refused = anonymous.get_metadata(GetMetadataRequest::default()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");

    let mut authenticated = daprd.grpc_client().await.unwrap();
    let metadata = authenticated
        .get_metadata(GetMetadataRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(metadata.id, "token-test");
}
