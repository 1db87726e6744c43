/** Certificates for the cert auth method's tests, made with openssl in a temporary directory. */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCert {
  name: string;
  pem: string;
  keyPem: string;
  der: Buffer;
  pemPath: string;
  keyPath: string;
}

export interface CertOptions {
  /** openssl -subj, e.g. "/CN=svc/OU=payments". */
  subject: string;
  issuer?: TestCert;
  ca?: boolean;
  /** Validity in days from now; negative gives a certificate that has already expired. */
  days?: number;
  /** Extra extension lines for the openssl extfile (SANs, EKU, custom OIDs). */
  ext?: string[];
  /** An explicit subject key identifier (colon hex), to forge another certificate's. */
  ski?: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), "arca-cert-auth-"));

  path(name: string): string {
    return join(this.dir, name);
  }

  private openssl(args: string[]): string {
    return execFileSync("openssl", args, { cwd: this.dir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  }

  make(name: string, o: CertOptions): TestCert {
    const f = (suffix: string) => this.path(`${name}.${suffix}`);
    const ext = [
      o.ca ? "basicConstraints=critical,CA:TRUE" : "basicConstraints=critical,CA:FALSE",
      `subjectKeyIdentifier=${o.ski ?? "hash"}`,
      ...(o.issuer ? ["authorityKeyIdentifier=keyid"] : []),
      ...(o.ca ? ["keyUsage=critical,keyCertSign,cRLSign"] : []),
      ...(o.ext ?? (o.ca ? [] : ["extendedKeyUsage=clientAuth"])),
    ];
    writeFileSync(f("ext"), `${ext.join("\n")}\n`);
    const days = String(o.days ?? 2);
    this.openssl(["req", "-new", ...EC, "-keyout", f("key"), "-out", f("csr"), "-subj", o.subject]);
    // x509 -req rather than req -x509: only it accepts a negative -days (an already-expired certificate).
    const signer = o.issuer ? ["-CA", o.issuer.pemPath, "-CAkey", o.issuer.keyPath, "-CAcreateserial"] : ["-signkey", f("key")];
    this.openssl(["x509", "-req", "-in", f("csr"), ...signer, "-out", f("pem"), "-days", days, "-extfile", f("ext")]);
    const pem = readFileSync(f("pem"), "utf8");
    return { name, pem, keyPem: readFileSync(f("key"), "utf8"), der: new X509Certificate(pem).raw, pemPath: f("pem"), keyPath: f("key") };
  }

  /** A key identifier extension as openssl prints it, in OpenBao's metadata format (lower-case, colons). */
  keyId(cert: TestCert, which: "subjectKeyIdentifier" | "authorityKeyIdentifier"): string {
    const out = this.openssl(["x509", "-in", cert.pemPath, "-noout", "-ext", which]);
    return (/([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(out)?.[1] ?? "").toLowerCase();
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
