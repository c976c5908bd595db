package engine

import (
	"bytes"
	"strconv"

	"github.com/emqgo/emqgo/codec"
	"github.com/emqgo/emqgo/trie"
)

// errIndexLevels refuses a topic deeper than the subscription index holds (trie.MaxLevels),
// when max_topic_levels is 0 (no limit of its own) or above it: such a message could be
// neither delivered nor retained, so it is never acknowledged.
var errIndexLevels = &codec.Error{Code: codec.TopicNameInvalid, Reason: "topic has more than " + strconv.Itoa(trie.MaxLevels) + " levels, the deepest the subscription index holds"}

// topicLevelLimit is the most levels a topic or filter may have in zone z: max_topic_levels,
// bounded by the subscription index's own limit, which is the limit when max_topic_levels is 0.
func (z *Zone) topicLevelLimit() int {
	if z.MaxTopicLevels <= 0 || z.MaxTopicLevels > trie.MaxLevels {
		return trie.MaxLevels
	}
	return z.MaxTopicLevels
}

// tooDeep reports whether topic (or filter) has more levels than limit. It counts only when
// topic is long enough to have that many (limit levels need limit-1 slashes), so a short
// topic costs one comparison.
func tooDeep(topic []byte, limit int) bool {
	return len(topic) >= limit && bytes.Count(topic, slash)+1 > limit
}

// topicLevelsError is the error refusing a topic deeper than z allows.
func (z *Zone) topicLevelsError() *codec.Error {
	if z.topicLevelLimit() == z.MaxTopicLevels {
		return errTopicLevels
	}
	return errIndexLevels
}
