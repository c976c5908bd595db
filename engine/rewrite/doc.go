// Package rewrite compiles and applies the topic rewrite rules of the rewrite module
// (module.rewrite.rule.N, module.rewrite.pub.rule.N, module.rewrite.sub.rule.N in emqx.conf).
//
// A rule is "filter regexp destination". A topic (a PUBLISH topic name, a will topic, or a
// SUBSCRIBE/UNSUBSCRIBE filter without its $share/<group>/ or $queue/ prefix) is compared
// with the rules' filters in order, and only the FIRST rule whose filter matches it is used:
// when that rule's regular expression matches the topic, the topic becomes the destination
// with $1 … $9 replaced by the expression's capture groups; when it does not, the topic is left
// unchanged and no later rule is tried. This is EMQX's behaviour (emqx_mod_rewrite in 3.2 and
// 4.x). The filter is matched level by level with MQTT's wildcards, where a '+' or '#' in the
// topic itself (a subscription filter being rewritten) is an ordinary level, and a topic whose
// first level starts with '$' is not matched by a rule filter starting with a wildcard.
//
// Differences from EMQX: the regular expression uses Go's RE2 syntax (no back-references or
// look-around; anything else EMQX users write works the same), and "$N" for a group the
// expression does not have stays as written, as in EMQX; a group that did not take part in
// the match is replaced by nothing.
//
// The package imports only the standard library and codec, and knows nothing of the engine:
// engine applies the rules, engine/config checks them when the configuration loads.
package rewrite
