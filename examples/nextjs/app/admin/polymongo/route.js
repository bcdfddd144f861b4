// The wrapper's status page (pools, admission queue, busiest and slowest tenants) as an App Router
// route: polymongo-rs's handler takes the web Request and returns a Response. It shows database
// names: in a real app, guard it (middleware checking a session cookie, or HTTP Basic auth: the page
// polls its own URL, so the browser must resend the credential by itself).
import { wrapper } from '@/lib/db';

export const dynamic = 'force-dynamic';

export function GET(request) {
  return wrapper().stats.handler()(request);
}
