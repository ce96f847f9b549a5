// Which connection the pool hands out: one per owner (a Host), replaced when that owner's
// credentials or address change, never shared between owners. Connections here are never dialled.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SshPool } from '../../reconcilers/ssh/pool.ts';

const target = { host: '10.0.0.2', port: 22, username: 'deploy', privateKey: 'key-a', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOuHTv2hpz6rMq+DmHXJK0AvCZl9U6Xbrm2rA8Yc6jW3' };

describe('SshPool', () => {
  it('reuses the connection of an owner while nothing about it changes', () => {
    const pool = new SshPool();
    const first = pool.connection({ ...target, owner: 'host-uid-1' });
    assert.equal(pool.connection({ ...target, owner: 'host-uid-1' }), first);
    pool.close();
  });

  it('two Hosts for the same machine with different keys keep a connection each', () => {
    const pool = new SshPool();
    const a = pool.connection({ ...target, owner: 'host-uid-1' });
    const b = pool.connection({ ...target, privateKey: 'key-b', owner: 'host-uid-2' });
    assert.notEqual(a, b);
    assert.equal(pool.connection({ ...target, owner: 'host-uid-1' }), a, 'the second Host did not replace the first one\'s connection');
    assert.notEqual(a.status().state, 'closed');
    assert.notEqual(b.status().state, 'closed');
    pool.close();
  });

  it('a rotated key or a new address replaces the owner\'s connection and closes the old one', () => {
    const pool = new SshPool();
    const before = pool.connection({ ...target, owner: 'host-uid-1' });
    const rotated = pool.connection({ ...target, privateKey: 'key-rotated', owner: 'host-uid-1' });
    assert.notEqual(rotated, before);
    assert.equal(before.status().state, 'closed');
    const moved = pool.connection({ ...target, host: '10.0.0.3', privateKey: 'key-rotated', owner: 'host-uid-1' });
    assert.notEqual(moved, rotated);
    assert.equal(rotated.status().state, 'closed');
    pool.release({ ...target, owner: 'host-uid-1' });
    assert.equal(moved.status().state, 'closed');
    pool.close();
  });
});
