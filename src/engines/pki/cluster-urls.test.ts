// config/cluster and templated AIA URLs (config/urls enable_templating): {{cluster_path}},
// {{cluster_aia_path}} and {{issuer_id}} filled into the certificates, read back with openssl.
import { describe, expect, it } from "vitest";
import { pkiSuite } from "./pki-harness.test-util.js";

const { pki, tmp, uniq } = pkiSuite();
const text = (pemText: string): string => tmp.openssl(["x509", "-noout", "-text", "-in", tmp.file(`${uniq("c")}.pem`, pemText)]).out;

describe("pki config/cluster and URL templating", () => {
  it("stores the cluster paths and refuses non-URLs", async () => {
    const h = pki();
    expect(await h.data("read", "config/cluster")).toEqual({ path: "", aia_path: "" });
    await h.call("write", "config/cluster", { path: "https://bao.example.com/v1/pki/", aia_path: "http://aia.example.com/v1/pki" });
    expect(await h.data("read", "config/cluster")).toEqual({ path: "https://bao.example.com/v1/pki", aia_path: "http://aia.example.com/v1/pki" });
    await h.call("write", "config/cluster", { aia_path: "" });
    expect(await h.data("read", "config/cluster")).toEqual({ path: "https://bao.example.com/v1/pki", aia_path: "" });
    expect((await h.fails("write", "config/cluster", { path: "not a url" })).message).toMatch(/config\/cluster path must be a URL/);
  });

  it("fills {{cluster_path}}, {{cluster_aia_path}} and {{issuer_id}} into roots and leaves", async () => {
    const h = pki();
    const urls = {
      issuing_certificates: "{{cluster_aia_path}}/issuer/{{issuer_id}}/der",
      crl_distribution_points: "{{cluster_path}}/issuer/{{issuer_id}}/crl/der",
      ocsp_servers: "{{cluster_path}}/ocsp",
    };
    // Templates are refused while templating is off…
    expect((await h.fails("write", "config/urls", urls)).message).toMatch(/invalid URL "\{\{cluster_aia_path\}\}\/issuer\/\{\{issuer_id\}\}\/der" \(templates need enable_templating=true\)/);
    expect((await h.fails("write", "config/urls", { ocsp_servers: "{{nosuch}}/x", enable_templating: true })).message).toMatch(/unknown AIA URL template \{\{nosuch\}\}/);
    await h.call("write", "config/urls", { ...urls, enable_templating: true });
    expect((await h.data("read", "config/urls")).enable_templating).toBe(true);
    // …and need config/cluster before anything can be signed with them.
    const e = await h.fails("write", "root/generate/internal", { common_name: "T Root", key_type: "ec" });
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/\{\{cluster_(aia_)?path\}\} is used but config\/cluster has no (aia_)?path/);
    await h.call("write", "config/cluster", { aia_path: "http://aia.example.com/v1/pki" });
    expect((await h.fails("write", "root/generate/internal", { common_name: "T Root", key_type: "ec" })).message).toMatch(/\{\{cluster_path\}\} is used but config\/cluster has no path/);
    expect((await h.dump("issuers/")).size).toBe(0);

    await h.call("write", "config/cluster", { path: "https://bao.example.com/v1/pki", aia_path: "http://aia.example.com/v1/pki" });
    const root = await h.data("write", "root/generate/internal", { common_name: "T Root", key_type: "ec", ttl: "100h" });
    const id = root.issuer_id as string;
    const rt = text(root.certificate as string);
    expect(rt).toContain(`CA Issuers - URI:http://aia.example.com/v1/pki/issuer/${id}/der`);
    expect(rt).toContain(`URI:https://bao.example.com/v1/pki/issuer/${id}/crl/der`);
    await h.call("write", "roles/web", { allowed_domains: "example.com", allow_subdomains: true, key_type: "ec" });
    const leaf = await h.data("write", "issue/web", { common_name: "a.example.com", ttl: "1h" });
    const lt = text(leaf.certificate as string);
    expect(lt).toContain("OCSP - URI:https://bao.example.com/v1/pki/ocsp");
    expect(lt).toContain(`CA Issuers - URI:http://aia.example.com/v1/pki/issuer/${id}/der`);
    expect(lt).toContain(`URI:https://bao.example.com/v1/pki/issuer/${id}/crl/der`);
    expect(lt).not.toContain("{{");
  });
});
