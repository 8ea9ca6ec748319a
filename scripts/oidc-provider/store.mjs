// Storage: a plain in-memory adapter. Everything is lost when the process
// exits, which is what a test or demo provider wants.

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

export function createMemoryAdapter() {
  const store = new Map(); // key -> { payload, expiresAt }
  const index = new Map(); // secondary key -> key
  const grants = new Map(); // grantId -> Set(key)

  const now = () => Date.now();
  const get = (key) => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const expiresAt = typeof expiresIn === 'number' ? now() + expiresIn * 1000 : undefined;
      store.set(key, { payload, expiresAt });
      if (this.model === 'Session' && payload.uid) index.set(`sessionUid:${payload.uid}`, key);
      if (payload.userCode) index.set(`userCode:${payload.userCode}`, key);
      if (GRANTABLE.has(this.model) && payload.grantId) {
        if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
        grants.get(payload.grantId).add(key);
      }
    }

    async find(id) {
      return get(this.key(id));
    }

    async findByUid(uid) {
      const key = index.get(`sessionUid:${uid}`);
      return key ? get(key) : undefined;
    }

    async findByUserCode(userCode) {
      const key = index.get(`userCode:${userCode}`);
      return key ? get(key) : undefined;
    }

    async consume(id) {
      const payload = get(this.key(id));
      if (payload) payload.consumed = Math.floor(now() / 1000);
    }

    async destroy(id) {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    }
  };
}
