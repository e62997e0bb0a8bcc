/**
 * Mail for the sidecar: workspace instructions sent over SMTP with nodemailer.
 *
 * The server comes from `PADDOCK_SMTP_URL` (`smtp://user:pass@host:587`, `smtps://...:465`);
 * the sender from `PADDOCK_SMTP_FROM`. The URL may hold credentials: it is never logged.
 *
 * Owns: talking SMTP. Must not touch: HTTP, git, records.
 */
import nodemailer from 'nodemailer';
import type { Mailer } from './server.ts';

export interface SmtpMailerOptions {
  /** `smtp://[user:pass@]host[:port]` or `smtps://...`. */
  readonly url: string;
  /** The From header. @default 'paddock <paddock@localhost>' */
  readonly from?: string;
  /** Longest wait for connecting, the greeting and each reply. @default 15000 */
  readonly timeoutMs?: number;
}

export const DEFAULT_FROM = 'paddock <paddock@localhost>';

/** A `Mailer` that sends through one SMTP server. */
export class SmtpMailer implements Mailer {
  private readonly transport: nodemailer.Transporter;
  private readonly from: string;

  constructor(opts: SmtpMailerOptions) {
    if (!/^smtps?:\/\//i.test(opts.url)) throw new Error('the SMTP URL must start with smtp:// or smtps://');
    const timeout = opts.timeoutMs ?? 15_000;
    this.transport = nodemailer.createTransport({
      url: opts.url,
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    });
    this.from = opts.from ?? DEFAULT_FROM;
  }

  async send(to: string, subject: string, text: string): Promise<void> {
    await this.transport.sendMail({ from: this.from, to, subject, text });
  }

  close(): void {
    this.transport.close();
  }
}

/** The mailer configured by `PADDOCK_SMTP_URL` (and `PADDOCK_SMTP_FROM`), or undefined when it is not set. */
export function mailerFromEnv(env: NodeJS.ProcessEnv = process.env): SmtpMailer | undefined {
  const url = env.PADDOCK_SMTP_URL?.trim();
  if (!url) return undefined;
  return new SmtpMailer({ url, from: env.PADDOCK_SMTP_FROM?.trim() || undefined });
}
