//! The anchoring flow against the node double: send → poll until deep enough → SPV →
//! verify with ancora-proof against the header fetched by hash.

use std::time::Duration;

use ancora_chainweb::{ChainId, PactOutcome};
use ancora_proof::spv::verify_against_header;

use super::common::{anchor_cmd, node_and_client};

const ROOT: &str = "q1w2e3r4t5y6u7i8o9p0q1w2e3r4t5y6u7i8o9p0abc";

#[tokio::test]
async fn an_anchor_is_mined_confirmed_and_proven_against_the_header_fetched_by_hash() {
    let (node, client) = node_and_client().await;
    let chain = ChainId(3);
    let cmd = anchor_cmd(&node, 3, "batch-1", ROOT);

    let keys = client
        .send(chain, std::slice::from_ref(&cmd))
        .await
        .unwrap();
    assert_eq!(keys, vec![cmd.request_key()]);
    assert!(
        client.poll(chain, &keys, None).await.unwrap().is_empty(),
        "not mined yet"
    );

    node.mine(1);
    assert!(
        client.poll(chain, &keys, Some(6)).await.unwrap().is_empty(),
        "not deep enough"
    );
    let shallow = client.poll(chain, &keys, None).await.unwrap();
    assert_eq!(
        shallow[&keys[0]].meta_data.as_ref().unwrap().block_height,
        1
    );

    node.mine(6);
    let results = client.poll(chain, &keys, Some(6)).await.unwrap();
    let result = &results[&keys[0]];
    assert_eq!(result.result, PactOutcome::Success(ROOT.into()));
    assert_eq!(result.events[0]["name"], "ANCHORED");
    assert_eq!(result.events[0]["params"][0], "batch-1");
    let meta = result.meta_data.clone().unwrap();

    let spv = client.spv(chain, keys[0], chain).await.unwrap();
    let root = spv.proof.run();
    assert_eq!(
        root, meta.block_hash,
        "a same-chain proof ends at the transaction's block"
    );
    let header = client.header(chain, &root).await.unwrap();
    assert_eq!(header.height, 1);
    let verified = verify_against_header(&spv.proof, 3, &header).unwrap();
    assert_eq!(verified.output.data().unwrap(), ROOT);
    assert_eq!(
        verified.output.req_key(),
        Some(keys[0].to_string().as_str())
    );
    // The string a `cont` payload would carry decodes to the same proof.
    assert_eq!(
        ancora_proof::spv::TransactionOutputProof::decode_response(&spv.text).unwrap(),
        spv.proof
    );

    // The convenience path does the same.
    let (_, again) = client.verified_spv(chain, keys[0]).await.unwrap();
    assert_eq!(again.root, root);

    // The header is canonical and 6 deep: the cut and the header range agree.
    let cut = client.cut().await.unwrap();
    assert_eq!(cut.hashes[&3].height, 7);
    let range = client.headers(chain, 0, 7).await.unwrap();
    assert_eq!(range.len(), 8);
    assert_eq!(range[1].hash, Some(root));
    for pair in range.windows(2) {
        assert_eq!(
            pair[1].parent,
            pair[0].hash.unwrap(),
            "headers chain by parent hash"
        );
        assert!(pair[1].creation_time > pair[0].creation_time);
        assert_eq!(pair[1].height, pair[0].height + 1);
    }
    assert_eq!(range[7].hash, Some(cut.hashes[&3].hash));
}

#[tokio::test]
async fn headers_name_the_neighbours_previous_blocks_as_adjacent_parents() {
    let (node, client) = node_and_client().await;
    node.mine(2);
    let h2 = client.headers(ChainId(0), 2, 2).await.unwrap().remove(0);
    assert_eq!(
        h2.adjacents.keys().copied().collect::<Vec<_>>(),
        vec![2, 3, 5]
    );
    for (n, hash) in &h2.adjacents {
        let neighbour = client.headers(ChainId(*n), 1, 1).await.unwrap().remove(0);
        assert_eq!(neighbour.hash, Some(*hash));
    }
    let genesis = client.headers(ChainId(0), 0, 0).await.unwrap().remove(0);
    assert_eq!(
        genesis.hash.unwrap().to_b64url(),
        "SNAMXHBvZtAbeS19x12bZV2p5d1E4BaxrggceNdUxbw"
    );
}

#[tokio::test]
async fn a_cross_chain_proof_hops_through_the_graph_and_verifies_on_the_target_chain() {
    let (node, client) = node_and_client().await;
    // Chains 0 and 1 are two hops apart in the Petersen graph (through chain 3).
    let cmd = anchor_cmd(&node, 0, "batch-x", ROOT);
    let key = client.send(ChainId(0), &[cmd]).await.unwrap()[0];
    node.mine(1);
    let too_young = client.spv(ChainId(0), key, ChainId(1)).await.unwrap_err();
    assert!(
        too_young
            .to_string()
            .contains("Chainweb instance is too young"),
        "{too_young}"
    );
    node.mine(3);
    let spv = client.spv(ChainId(0), key, ChainId(1)).await.unwrap();
    assert_eq!(spv.proof.chain, 1);
    let header = client.header(ChainId(1), &spv.proof.run()).await.unwrap();
    assert_eq!(
        header.height, 3,
        "two hops after the transaction's height 1"
    );
    let verified = verify_against_header(&spv.proof, 1, &header).unwrap();
    assert_eq!(verified.output.data().unwrap(), ROOT);
    assert_eq!(spv.proof.object.steps.len(), 1 + 1 + 4 + 4 + 4);
}

#[tokio::test]
async fn listen_waits_for_the_block_that_mines_the_command() {
    let (node, client) = node_and_client().await;
    let cmd = anchor_cmd(&node, 1, "batch-l", ROOT);
    let key = client.send(ChainId(1), &[cmd]).await.unwrap()[0];
    let node = std::sync::Arc::new(node);
    let miner = node.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        miner.mine(1);
    });
    let result = client.listen(ChainId(1), key).await.unwrap();
    assert_eq!(result.data().unwrap(), ROOT);
    assert!(result.tx_id.is_some());
}

#[tokio::test]
async fn a_string_literal_returns_itself_and_a_second_anchor_with_the_same_id_fails() {
    let (node, client) = node_and_client().await;
    let first = anchor_cmd(&node, 2, "dup", "root-a");
    let second = anchor_cmd(&node, 2, "dup", "root-b");
    let keys = client.send(ChainId(2), &[first, second]).await.unwrap();
    node.mine(1);
    let r = client.poll(ChainId(2), &keys, None).await.unwrap();
    assert!(r[&keys[0]].is_success());
    let msg = r[&keys[1]].result.error_message().unwrap();
    assert!(msg.contains("already recorded"), "{msg}");
}
