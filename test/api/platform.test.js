'use strict';
// Other platforms, as far as Linux can show them: the facade's platform branch, with
// process.platform faked. (The native fallbacks are compiled by `npm run lint`.)
const assert = require('node:assert/strict');
const { test } = require('node:test');
const solely = require('../..');
const { uniqueName } = require('../support/helpers');

function as(t, platform) {
  const real = Object.getOwnPropertyDescriptor(process, 'platform');
  Object.defineProperty(process, 'platform', { ...real, value: platform });
  t.after(() => Object.defineProperty(process, 'platform', real));
}

const unsupported = {
  name: 'UnsupportedPlatformError',
  code: 'ENOTSUP',
  errno: -95,
  message: 'abstract socket names exist only on Linux, not darwin',
};

test('abstract locks throw UnsupportedPlatformError off Linux', async (t) => {
  as(t, 'darwin');
  const name = uniqueName();
  assert.throws(() => solely.lockAbstractSync(name), unsupported);
  assert.throws(() => solely.tryLockAbstractSync(name), (error) => error instanceof solely.UnsupportedPlatformError);
  await assert.rejects(solely.lockAbstract(name, { wait: 10 }), unsupported);
});
