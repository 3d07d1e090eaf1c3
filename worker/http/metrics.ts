/** Prometheus metrics for the daemon, fed by the engine's observer hooks (text format 0.0.4, no library needed). */
import type { EngineObserver, TaskReport, TransportName, UploadError } from '../types.ts';

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i]!++;
    });
  }
  render(name: string, help: string, labels = ''): string {
    const sep = labels ? `${labels},` : '';
    const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    this.buckets.forEach((b, i) => {
      lines.push(`${name}_bucket{${sep}le="${b}"} ${this.counts[i]}`);
    });
    lines.push(`${name}_bucket{${sep}le="+Inf"} ${this.count}`, `${name}_sum${labels ? `{${labels}}` : ''} ${this.sum}`, `${name}_count${labels ? `{${labels}}` : ''} ${this.count}`);
    return lines.join('\n');
  }
}

export class Metrics implements EngineObserver {
  readonly duration = new Histogram([0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300]);
  readonly size = new Histogram([1024, 65536, 1 << 20, 5 << 20, 64 << 20, 256 << 20, 1 << 30, 5 * 2 ** 30]);
  readonly rate = new Histogram([1e6, 1e7, 5e7, 1e8, 2.5e8, 5e8, 1e9, 5e9].map((b) => b / 8));
  readonly queueWait = new Histogram([0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30]);
  readonly outcomes = new Map<string, number>();
  readonly retries = new Map<string, number>();
  inFlightParts = 0;
  bytes = 0;
  /** Unset until a sendfile/ktls part reports TCP_INFO (fetch hides its sockets). */
  rttMicros: number | undefined;
  retransmits = 0;

  /** Set once the engine's startup probe has picked it. */
  transport: TransportName = 'fetch';
  /** HTTP requests being held (uploads waiting or running). */
  requestsInFlight = 0;

  queued(waitSeconds: number): void {
    this.queueWait.observe(waitSeconds);
  }
  retry(cause: string): void {
    this.retries.set(cause, (this.retries.get(cause) ?? 0) + 1);
  }
  partStarted(): void {
    this.inFlightParts++;
  }
  partFinished(bytes: number): void {
    this.inFlightParts--;
    this.bytes += bytes;
  }
  taskFinished(report: Partial<TaskReport>, error?: UploadError): void {
    const outcome = error ? error.code : 'ok';
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (error) return;
    this.duration.observe(report.upload_total_seconds ?? 0);
    this.size.observe(report.upload_size_bytes ?? 0);
    this.rate.observe(report.upload_rate_bytes ?? 0);
  }
  tcpInfo(info: { rttMicros: number; retransmits: number }): void {
    this.rttMicros = info.rttMicros;
    this.retransmits += info.retransmits;
  }

  render(stats: { inFlightParts: number; activeFiles: number; queuedFiles: number }): string {
    const counter = (name: string, help: string, values: Map<string, number>, label: string) =>
      [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, ...[...values].map(([k, v]) => `${name}{${label}="${k}"} ${v}`)].join('\n');
    const gauge = (name: string, help: string, value: number, labels = '') => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name}${labels} ${value}`;
    return [
      this.duration.render('s3nd_upload_duration_seconds', 'Upload duration, queue included'),
      this.size.render('s3nd_upload_size_bytes', 'Uploaded object sizes'),
      this.rate.render('s3nd_upload_rate_bytes_per_second', 'Upload transfer rates'),
      this.queueWait.render('s3nd_queue_wait_seconds', 'Time uploads waited for their first part slot'),
      counter('s3nd_uploads_total', 'Finished uploads by outcome', this.outcomes, 'outcome'),
      counter('s3nd_part_retries_total', 'Part retries by cause', this.retries, 'cause'),
      `# HELP s3nd_uploaded_bytes_total Bytes acknowledged by S3\n# TYPE s3nd_uploaded_bytes_total counter\ns3nd_uploaded_bytes_total ${this.bytes}`,
      gauge('s3nd_parts_in_flight', 'Parts being sent', stats.inFlightParts),
      gauge('s3nd_files_active', 'Files being uploaded', stats.activeFiles),
      gauge('s3nd_files_queued', 'Files waiting for a part slot', stats.queuedFiles),
      gauge('s3nd_http_requests_in_flight', 'Upload requests being held open', this.requestsInFlight),
      gauge('s3nd_transport_info', 'Transport in use', 1, `{transport="${this.transport}"}`),
      ...(this.rttMicros === undefined
        ? []
        : [
            gauge('s3nd_tcp_rtt_seconds', 'Smoothed TCP round-trip time after the last part (sendfile/ktls transports)', this.rttMicros / 1e6),
            `# HELP s3nd_tcp_retransmits_total TCP segments retransmitted while sending parts (sendfile/ktls transports)\n# TYPE s3nd_tcp_retransmits_total counter\ns3nd_tcp_retransmits_total ${this.retransmits}`,
          ]),
    ].join('\n\n').concat('\n');
  }
}
