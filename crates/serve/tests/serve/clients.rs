//! What TEI clients send and read, request for request, as their code does it (each client's
//! file named; scripts/tei_clients.py runs the real LlamaIndex and Haystack packages too).

use crate::common::*;
use provence_serve::{Limits, ServeConfig};
use serde_json::{Value, json};

/// Dify's `huggingface_tei` provider (`tei_helper.py::TeiHelper._get_tei_extra_parameter`,
/// `rerank.py::HuggingfaceTeiRerankModel.validate_credentials`): `GET /info`, `model_type` a
/// dict whose first key is the kind, which must be `"reranker"`; `max_input_length` becomes the
/// context size; then a rerank of three texts with `return_text`, reading index, text, score.
fn dify_validates(url: &str, headers: &[(&str, &str)]) -> Result<(), String> {
    let agent = agent();
    let info = send(&agent, "GET", url, "/info", headers, None);
    if info.status != 200 {
        return Err(format!(
            "get tei model extra parameter failed, status code: {}",
            info.status
        ));
    }
    let info = info.json();
    let model_type = info["model_type"].as_object().ok_or("model_type is not a dict")?;
    let kind = model_type.keys().next().ok_or("model_type is empty")?;
    if kind != "reranker" {
        return Err(format!("Current model is not a rerank model: {kind}"));
    }
    let context_size = info["max_input_length"].as_u64().ok_or("max_input_length")?;
    let _batch = info["max_client_batch_size"].as_u64().ok_or("max_client_batch_size")?;
    let docs = [
        "Kasumi is a girl's name of Japanese origin meaning \"mist\".",
        "Her music is a kawaii bass, a mix of future bass, pop, and kawaii music ",
        "and she leads a team named PopiParty.",
    ];
    let body = json!({"query": "Whose kasumi", "texts": docs, "return_text": true}).to_string();
    let reply = send(&agent, "POST", url, "/rerank", headers, Some(&body));
    if reply.status != 200 {
        return Err(format!("rerank: {}", reply.status));
    }
    for result in reply.json().as_array().ok_or("not a list")? {
        let index = result["index"].as_u64().ok_or("index")? as usize;
        let text = result["text"].as_str().ok_or("text")?;
        let score = result["score"].as_f64().ok_or("score")?;
        if text != docs[index] || !(0.0..=1.0).contains(&score) {
            return Err(format!("bad result {result}"));
        }
    }
    if context_size == 0 {
        return Err("context size 0".into());
    }
    Ok(())
}

#[test]
fn dify_adds_the_model_with_and_without_a_key() {
    let server = TestServer::default_limits();
    let json = [("Content-Type", "application/json")];
    dify_validates(&server.url, &json).unwrap();
    server.stop().unwrap();

    let keyed = TestServer::start(ServeConfig {
        api_key: Some("dify-key".into()),
        ..config(Limits::default())
    });
    let with_key = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer dify-key"),
    ];
    dify_validates(&keyed.url, &with_key).unwrap();
    let err = dify_validates(&keyed.url, &json).unwrap_err();
    assert!(err.contains("401"), "{err}");
    keyed.stop().unwrap();
}

/// LlamaIndex's `TextEmbeddingInference` postprocessor
/// (`llama_index/postprocessor/tei_rerank/base.py::_call_api`, `_postprocess_nodes`): `POST
/// {base_url}/rerank` with `{"query", "texts"}` and the `auth_token` verbatim as
/// `Authorization`; asserts one result per node and sets `nodes[item["index"]].score =
/// float(item["score"])`, then sorts by score.
#[test]
fn llama_index_postprocessor_shapes() {
    let server = TestServer::start(ServeConfig {
        api_key: Some("li".into()),
        ..config(Limits::default())
    });
    let texts: Vec<String> = (0..6).map(passage).collect();
    let body = json!({"query": query(2), "texts": texts}).to_string();
    let headers = [("Content-Type", "application/json"), ("Authorization", "Bearer li")];
    let reply = send(&agent(), "POST", &server.url, "/rerank", &headers, Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let scores = reply.json();
    let scores = scores.as_array().unwrap();
    assert_eq!(scores.len(), texts.len(), "assert len(scores) == len(nodes)");
    let mut node_scores = vec![None; texts.len()];
    for item in scores {
        let index = item["index"].as_u64().unwrap() as usize;
        assert!(node_scores[index].is_none(), "each node scored once");
        node_scores[index] = Some(item["score"].as_f64().unwrap());
    }
    assert!(node_scores.iter().all(Option::is_some));
    server.stop().unwrap();
}

/// Haystack's `HuggingFaceTEIRanker` (huggingface-api-haystack,
/// `haystack_integrations/components/rankers/huggingface_api/ranker.py::run`): `{"query",
/// "texts", "raw_scores"}`, plus `{"truncate": true, "truncation_direction": "Left"|"Right"}`
/// when a direction is given; an error body is recognised by its `error` / `error_type` keys;
/// results are read in order (`result[:top_k]`), `index` and `score` each.
#[test]
fn haystack_ranker_shapes() {
    let server = TestServer::default_limits();
    let agent = agent();
    let texts: Vec<String> = (0..4).map(passage).collect();
    let mut previous: Option<Vec<Value>> = None;
    for (raw_scores, direction) in [(false, None), (true, Some("Left")), (false, Some("Right"))] {
        let mut payload = json!({"query": query(3), "texts": texts, "raw_scores": raw_scores});
        if let Some(direction) = direction {
            payload["truncate"] = json!(true);
            payload["truncation_direction"] = json!(direction);
        }
        let reply = post(&agent, &server.url, "/rerank", &payload);
        assert_eq!(reply.status, 200, "{payload}: {}", reply.text);
        let result = reply.json();
        let result = result.as_array().unwrap().clone();
        let top_k: Vec<usize> = result[..2]
            .iter()
            .map(|i| i["index"].as_u64().unwrap() as usize)
            .collect();
        assert!(top_k.iter().all(|&i| i < texts.len()));
        if raw_scores {
            // Logits: their sigmoids are the plain scores, in the same order.
            let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
            for (raw, plain) in result.iter().zip(previous.as_ref().unwrap()) {
                assert_eq!(raw["index"], plain["index"]);
                assert!((sigmoid(raw["score"].as_f64().unwrap()) - plain["score"].as_f64().unwrap()).abs() < 1e-6);
            }
        }
        previous = Some(result);
    }
    let error = post(&agent, &server.url, "/rerank", &json!({"query": "q", "texts": []}));
    let body = error.json();
    assert!(
        body.get("error").is_some() && body.get("error_type").is_some(),
        "{body}"
    );
    server.stop().unwrap();
}
