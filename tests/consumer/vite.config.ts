import { cloudflare } from "@cloudflare/vite-plugin";
import { defineConfig } from "vite";

// Tenants are subdomains, so the dev and preview servers must answer for them.
const allowedHosts = [".example.com"];

export default defineConfig({
  plugins: [cloudflare()],
  server: { allowedHosts },
  preview: { allowedHosts },
});
