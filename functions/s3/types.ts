/** Credentials as the AWS SDKs name them; `sessionToken` for temporary (STS) credentials. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Where and how to reach a store. */
export interface Endpoint {
  /** Origin, e.g. `https://s3.us-east-1.amazonaws.com` or `https://localhost:7443`. */
  url: string;
  region: string;
  /**
   * `https://host/bucket/key` instead of `https://bucket.host/key`. Defaults to true for
   * anything but AWS endpoints (IPs, localhost and custom endpoints), see `usePathStyle`.
   */
  pathStyle?: boolean | undefined;
}

export type HttpMethod = 'GET' | 'PUT' | 'HEAD' | 'POST' | 'DELETE';
