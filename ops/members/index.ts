/** The member network API: member files, the manifest, a member's bundle. */
export { MEMBER_FILE, initMember, memberFileText } from "./init.js";
export { MANIFEST_FILE, assembleNetwork, parseManifest } from "./assemble.js";
export { readMemberKeys, renderMemberBundle } from "./bundle.js";
export { MEMBER_FORMAT, type MemberFile } from "./member-file.js";
