// The Rust wire codec and P2P Media Loader 2.3.1 agree byte for byte. The vector files under
// crates/wire/tests/vectors/ are checked by the Rust tests (our encoder writes exactly these
// bytes, our decoder reads them back) and here against PML's own shipped code: its
// serializer writes the same bytes, its decoder reads ours (also where its own encoder would
// break: more than 255 ids per group), and its swarm-id functions give the same ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vectorsDir = path.join(repo, 'crates/wire/tests/vectors');
const readVectors = (name) => JSON.parse(fs.readFileSync(path.join(vectorsDir, name), 'utf8')).vectors;

// The package exports only its entry point, which does not expose the command codec; load
// the shipped ES modules under lib/ by file URL instead.
const pmlRoot = path.resolve(fileURLToPath(import.meta.resolve('p2p-media-loader-core')), '../..');
const pml = (file) => import(pathToFileURL(path.join(pmlRoot, 'lib', file)).href);
const commands = await pml('p2p/commands/index.js');
const streamUtils = await pml('utils/stream.js');
const peerUtils = await pml('utils/peer.js');

const hex = (bytes) => Buffer.from(bytes).toString('hex');

function pmlDecode(messagesHex) {
  let decoded;
  const joiner = new commands.BinaryCommandChunksJoiner((body) => {
    decoded = commands.deserializeCommand(body);
  });
  for (const m of messagesHex) {
    const bytes = new Uint8Array(Buffer.from(m, 'hex'));
    assert.ok(commands.isCommandChunk(bytes), 'PML recognises every message as a command chunk');
    joiner.addCommandChunk(bytes);
  }
  return decoded;
}

test('the shipped package is p2p-media-loader-core 2.3.1', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(pmlRoot, 'package.json'), 'utf8'));
  assert.equal(pkg.version, '2.3.1');
});

test('PML serializes every shared vector to exactly the bytes we encode (or it wrote)', () => {
  // "pml" vectors are PML's bytes where they overshoot the max message size; ours differ there.
  const vectors = readVectors('pml-commands.json').filter((v) => v.encoder !== 'swarmcast');
  assert.ok(vectors.length >= 10);
  for (const v of vectors) {
    const ours = commands.serializePeerCommand(v.command, v.maxMessageSize).map(hex);
    assert.deepEqual(ours, v.messages, v.name);
  }
});

test('PML decodes every vector, ours included, to the expected command', () => {
  for (const v of readVectors('pml-commands.json')) {
    assert.deepEqual(pmlDecode(v.messages), v.decodesTo ?? v.command, v.name);
  }
});

test('our split groups are what PML needs: its own encoder loses 256 ids of one group', () => {
  const v = readVectors('pml-commands.json').find((x) => x.name.startsWith('300 ids sharing'));
  const ids = v.command.l;
  assert.deepEqual(pmlDecode(v.messages).l, ids, 'ours decode to all 300 ids');
  const theirs = commands.serializePeerCommand({ c: 0, l: ids }, 65535).map(hex);
  assert.throws(() => pmlDecode(theirs), 'PML cannot read its own announcement of 256+ ids in a group');
});

test('swarm ids and info-hashes match PML functions', () => {
  const vectors = readVectors('pml-swarm-ids.json');
  for (const v of vectors) {
    const shortId = streamUtils.generateStreamShortId(v.identity);
    assert.equal(shortId, v.shortId);
    const swarmId = streamUtils.getStreamSwarmId(v.swarmBase, { type: v.type, index: shortId });
    assert.equal(swarmId, v.streamSwarmId);
    assert.equal(peerUtils.getStreamHash(swarmId), v.infoHash);
  }
});
