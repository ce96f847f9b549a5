// When a reload may be a HUP to nginx's master instead of the host's reload command, and where the
// pid file is: table-tested, a reason on every case.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPlainNginxReload, pidFileFromConfig } from '../../reconcilers/nginx/reload.ts';
import type { NginxHostSettings } from '../../reconcilers/nginx/settings.ts';

const base: NginxHostSettings = {
  configDir: '/etc/nginx/outrigger', mainConfigFile: '/etc/nginx/nginx.conf', errorLogFile: '/var/log/nginx/error.log',
  testCommand: ['nginx', '-t'], reloadCommand: ['nginx', '-s', 'reload'], sudo: false, statusPort: 10080, resolvConf: '/etc/resolv.conf',
};

describe('isPlainNginxReload', () => {
  const table: Array<[string, Partial<NginxHostSettings>, boolean]> = [
    ['the default nginx -s reload', {}, true],
    ['a full path and -p prefix (as the test hosts have)', { reloadCommand: ['/usr/sbin/nginx', '-s', 'reload', '-p', '/srv/nginx'] }, true],
    ['-c given explicitly', { reloadCommand: ['nginx', '-c', '/etc/nginx/nginx.conf', '-s', 'reload'] }, true],
    ['through sudo: a refused sudo kill would alarm the host', { sudo: true }, false],
    ['a wrapper command may do more than signal', { reloadCommand: ['systemctl', 'reload', 'nginx'] }, false],
    ['-g may set another pid file', { reloadCommand: ['nginx', '-g', 'pid /x.pid;', '-s', 'reload'] }, false],
    ['another signal is not a reload', { reloadCommand: ['nginx', '-s', 'reopen'] }, false],
    ['a program merely ending in nginx-ish text', { reloadCommand: ['my-nginx', '-s', 'reload'] }, false],
  ];
  for (const [why, change, expected] of table) it(`${expected ? 'signals' : 'runs the command'}: ${why}`, () => assert.equal(isPlainNginxReload({ ...base, ...change }), expected));
});

describe('pidFileFromConfig', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['Debian\'s main configuration', 'user www-data;\nworker_processes auto;\npid /run/nginx.pid;\nevents {}\n', '/run/nginx.pid'],
    ['spaces and a comment after it', '  pid   /var/run/nginx.pid ;  # here\n', '/var/run/nginx.pid'],
    ['a commented-out directive does not count', '# pid /run/old.pid;\n', undefined],
    ['a relative path depends on the prefix: unknown', 'pid logs/nginx.pid;\n', undefined],
    ['no pid directive (the compiled-in default is unknown here)', 'events {}\nhttp {}\n', undefined],
    ['a pid word inside a block is not the main directive', 'http {\n  server { pid /x.pid; }\n}\n', undefined],
  ];
  for (const [why, text, expected] of table) it(why, () => assert.equal(pidFileFromConfig(text), expected));
});
