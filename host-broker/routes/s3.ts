// S3-compatible object storage route. per_topic: one object per topic,
// overwritten, so of several waiting messages of a topic only the newest needs
// writing (the object ends the same). per_message: one object per message under
// <prefix>/<topic>/<timestamp>, the timestamp taken when the hub accepted the
// message, so a retry overwrites the same key instead of making a duplicate.
import { PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { DeliveryError, describeError, isNetworkError, transientHttpStatus } from './errors';
import { QueuedMessage, RouteTarget, S3RouteConfig } from './types';

export function objectKey(cfg: Pick<S3RouteConfig, 'prefix' | 'strategy'>, m: Pick<QueuedMessage, 'topic' | 'ts'>): string {
  const base = cfg.prefix ? `${cfg.prefix}/${m.topic}` : m.topic;
  return cfg.strategy === 'per_topic' ? base : `${base}/${m.ts}`;
}

export class S3Target implements RouteTarget {
  readonly mode = 'single' as const;
  readonly coalesce: boolean;
  private readonly client: S3Client;

  constructor(private readonly cfg: S3RouteConfig) {
    this.coalesce = cfg.strategy === 'per_topic';
    this.client = new S3Client({
      region: cfg.region,
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      forcePathStyle: cfg.forcePathStyle,
      ...(cfg.credentials ? { credentials: cfg.credentials } : {}),
      // The route queue does the retrying, with its own backoff and accounting.
      maxAttempts: 1,
      // Many S3-compatible servers do not know the newer default checksums; send them only where S3 requires them.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: cfg.delivery.timeoutMs, requestTimeout: cfg.delivery.timeoutMs },
    });
  }

  async deliver(batch: QueuedMessage[]): Promise<void> {
    // A coalesced batch is one topic's waiting messages; the newest wins.
    const todo = this.coalesce ? batch.slice(-1) : batch;
    for (const m of todo) await this.put(m);
  }

  private async put(m: QueuedMessage): Promise<void> {
    const key = objectKey(this.cfg, m);
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.cfg.bucket,
        Key: key,
        Body: m.payload,
        ContentLength: m.payload.length,
        ContentType: 'application/octet-stream',
      }), { abortSignal: AbortSignal.timeout(this.cfg.delivery.timeoutMs) });
    } catch (err: any) {
      const status: number | undefined = err?.$metadata?.httpStatusCode;
      const where = `PutObject s3://${this.cfg.bucket}/${key}`;
      if (err instanceof S3ServiceException && status !== undefined) {
        throw new DeliveryError(`${where}: ${err.name} (HTTP ${status}): ${err.message}`, !transientHttpStatus(status));
      }
      // No HTTP answer at all: the server is unreachable or too slow.
      throw new DeliveryError(`${where}: ${describeError(err)}`, !isNetworkError(err) && status !== undefined && !transientHttpStatus(status));
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
