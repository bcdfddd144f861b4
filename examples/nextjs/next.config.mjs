/** @type {import('next').NextConfig} */
const nextConfig = {
  // Loaded by Node from node_modules at run time, never bundled: polymongo-rs is a native addon (a
  // `.node` file no bundler can pack), and mongoose must be the one instance polymongo-rs sees.
  serverExternalPackages: ['polymongo-rs', 'mongoose'],
};

export default nextConfig;
