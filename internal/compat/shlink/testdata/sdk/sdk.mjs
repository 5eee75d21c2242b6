// Drives Shlink's official JavaScript SDK against the Shortlinks server at
// SHLINK_URL with the API key SHLINK_KEY, checking what each call returns.
// Exits non-zero with the first difference; sdk_test.go runs it.
import assert from 'node:assert/strict';
import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { FetchHttpClient } from '@shlinkio/shlink-js-sdk/fetch';

const baseUrl = process.env.SHLINK_URL;
const client = new ShlinkApiClient(new FetchHttpClient(), { baseUrl, apiKey: process.env.SHLINK_KEY });
const stranger = new ShlinkApiClient(new FetchHttpClient(), { baseUrl, apiKey: 'sl_NOTAKEYNOTAKEYNOTAKEYNOTAK' });

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}:`, e);
    process.exit(1);
  }
}

// rejects checks that p fails with a Shlink problem of type code.
async function rejects(p, code, status) {
  await assert.rejects(p, (e) => {
    assert.equal(e.type, `https://shlink.io/api/error/${code}`);
    assert.equal(e.status, status);
    return true;
  });
}

await step('health', async () => {
  const h = await client.health();
  assert.equal(h.status, 'pass');
});

let created;
await step('create', async () => {
  created = await client.createShortUrl({
    longUrl: 'https://example.com/from-the-sdk',
    customSlug: 'sdk-slug',
    validUntil: '2031-01-02T03:04:05+00:00',
    findIfExists: false,
  });
  assert.equal(created.shortCode, 'sdk-slug');
  assert.equal(created.shortUrl, `${baseUrl}/sdk-slug`);
  assert.equal(created.meta.validUntil, '2031-01-02T03:04:05+00:00');
  assert.deepEqual(created.visitsSummary, { total: 0, nonBots: 0, bots: 0 });
  const generated = await client.createShortUrl({ longUrl: 'https://example.com/generated' });
  assert.match(generated.shortCode, /^[A-Za-z0-9]+$/);
  await rejects(client.createShortUrl({ longUrl: 'https://example.com/again', customSlug: 'sdk-slug' }), 'non-unique-slug', 400);
  await rejects(stranger.createShortUrl({ longUrl: 'https://example.com/x' }), 'invalid-api-key', 401);
});

await step('list', async () => {
  const list = await client.listShortUrls({ page: '1', itemsPerPage: 1, orderBy: { field: 'shortCode', dir: 'DESC' } });
  assert.equal(list.pagination.totalItems, 2);
  assert.equal(list.pagination.pagesCount, 2);
  assert.equal(list.data.length, 1);
  const found = await client.listShortUrls({ searchTerm: 'from-the-sdk' });
  assert.deepEqual(found.data.map((u) => u.shortCode), ['sdk-slug']);
});

await step('get', async () => {
  const u = await client.getShortUrl({ shortCode: 'sdk-slug' });
  assert.equal(u.longUrl, 'https://example.com/from-the-sdk');
  await rejects(client.getShortUrl({ shortCode: 'no-such-code' }), 'short-url-not-found', 404);
});

await step('edit', async () => {
  const u = await client.updateShortUrl({ shortCode: 'sdk-slug' }, { longUrl: 'https://example.com/edited', validUntil: null, title: 'Edited', tags: ['sdk'] });
  assert.equal(u.longUrl, 'https://example.com/edited');
  assert.equal(u.meta.validUntil, null);
  assert.equal(u.title, 'Edited');
  assert.deepEqual(u.tags, ['sdk']);
  await rejects(client.updateShortUrl({ shortCode: 'no-such-code' }, { title: 'x' }), 'short-url-not-found', 404);
  const again = await client.getShortUrl({ shortCode: 'sdk-slug' });
  assert.equal(again.longUrl, 'https://example.com/edited');
});

await step('tags and visits', async () => {
  const tags = await client.listTags();
  assert.deepEqual(tags.data, ['sdk']);
  const stats = await client.tagsStats();
  assert.deepEqual(stats.data.map((t) => [t.tag, t.shortUrlsCount]), [['sdk', 1]]);
  const tagged = await client.listShortUrls({ tags: ['sdk'] });
  assert.deepEqual(tagged.data.map((u) => u.shortCode), ['sdk-slug']);
  // A visit, as a browser makes it, reaches the visit routes once click
  // analytics has written it.
  const res = await fetch(`${baseUrl}/sdk-slug`, {
    redirect: 'manual',
    headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0', 'Accept-Language': 'en' },
  });
  assert.equal(res.status, 302);
  let visits;
  for (let i = 0; i < 100; i++) {
    visits = await client.getShortUrlVisits({ shortCode: 'sdk-slug' });
    if (visits.data.length > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(visits.data.length, 1);
  assert.equal(visits.data[0].potentialBot, false);
  const overview = await client.getVisitsOverview();
  assert.equal(overview.nonOrphanVisits.nonBots, 1);
  const visited = await client.getShortUrl({ shortCode: 'sdk-slug' });
  assert.deepEqual(visited.visitsSummary, { total: 1, nonBots: 1, bots: 0 });
  const domains = await client.listDomains();
  assert.equal(domains.data[0].isDefault, true);
});

await step('delete', async () => {
  await client.deleteShortUrl({ shortCode: 'sdk-slug' });
  await rejects(client.getShortUrl({ shortCode: 'sdk-slug' }), 'short-url-not-found', 404);
});
