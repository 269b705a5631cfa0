//! Graceful shutdown: requests in flight when the shutdown starts are all answered (correctly),
//! then the server returns `Ok` and stops listening.

use crate::common::*;
use provence_serve::Limits;
use serde_json::json;
use std::time::{Duration, Instant};

const IN_FLIGHT: usize = 12;

fn gauge(url: &str, name: &str) -> usize {
    let text = get(&agent(), url, "/metrics").text;
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as usize
}

#[test]
fn shutdown_answers_every_request_in_flight() {
    // One request per model call, so the requests queue up behind each other.
    let limits = Limits::default().unbatched();
    let server = TestServer::start(config(limits));
    let url = server.url.clone();
    let body = json!({"question": query(0), "contexts": (0..24).map(passage).collect::<Vec<_>>()});
    let want = without_timing(post(&agent(), &url, "/prune", &body).json());

    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..IN_FLIGHT)
            .map(|_| {
                let (url, body) = (&url, &body);
                scope.spawn(move || post(&agent(), url, "/prune", body))
            })
            .collect();
        // Wait until every client's request has been admitted (in flight, or already answered).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let admitted = gauge(&url, "provence_in_flight_requests")
                + gauge(&url, "provence_requests_total{route=\"/prune\",status=\"200\"}")
                - 1; // the reference request above
            if admitted >= IN_FLIGHT {
                break;
            }
            assert!(Instant::now() < deadline, "requests were not admitted");
            std::thread::sleep(Duration::from_millis(2));
        }
        let result = server.stop();
        assert!(result.is_ok(), "{result:?}");
        for client in clients {
            let reply = client.join().unwrap();
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_close(&without_timing(reply.json()), &want, 1e-6, "in-flight answer");
        }
    });
    let refused = std::net::TcpStream::connect(url.trim_start_matches("http://"));
    assert!(refused.is_err(), "still listening after shutdown");
}
