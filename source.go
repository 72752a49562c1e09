package amq

import (
	"fmt"
	"maps"
	"slices"

	"github.com/amqgo/amq/internal/codec"
)

// The JMS filters, as Apache's AMQP filters registry numbers them and Qpid
// JMS names them in a source's filter set.
const (
	// apache.org:selector-filter:string, 0x0000468C:0x00000004.
	selectorFilterCode = 0x0000468C00000004
	selectorFilterName = "apache.org:selector-filter:string"
	// apache.org:no-local-filter:list, 0x0000468C:0x00000003. Qpid JMS
	// sends it under the name "no-local" with a string value, which
	// brokers (Artemis among them) accept.
	noLocalFilterCode  = 0x0000468C00000003
	noLocalFilterName  = "no-local"
	noLocalFilterValue = "NoLocalFilter{}"
)

// checkSource validates the options that shape the source beyond its
// address, and copies their maps so that the caller may change its own.
// Called by newReceiverConfig.
func (o *ReceiverOptions) checkSource() error {
	if o.Browse && o.Move {
		return fmt.Errorf("amq: ReceiverOptions.Browse and ReceiverOptions.Move conflict: Browse is distribution mode copy, Move is move")
	}
	if len(o.DynamicNodeProperties) > 0 && !o.DynamicAddress {
		return fmt.Errorf("amq: ReceiverOptions.DynamicNodeProperties needs DynamicAddress: they describe the node the peer creates")
	}
	o.Filters = maps.Clone(o.Filters)
	o.DynamicNodeProperties = maps.Clone(o.DynamicNodeProperties)
	if _, err := annotationsToCodec("ReceiverOptions.DynamicNodeProperties", o.DynamicNodeProperties); err != nil {
		return err
	}
	_, err := sourceFilter(o)
	return err
}

// sourceFilter is the filter set of the source (AMQP 1.0 section 3.5.8):
// the selector, the filters given, then no-local. Names are symbols; the
// entries go in a fixed order, so that every attach of a receiver sends
// the same set.
func sourceFilter(o *ReceiverOptions) (codec.Map, error) {
	n := len(o.Filters)
	if o.Selector != "" {
		n++
	}
	if o.NoLocal {
		n++
	}
	if n == 0 {
		return nil, nil
	}
	f := make(codec.Map, 0, n)
	if o.Selector != "" {
		f = append(f, codec.MapEntry{Key: Symbol(selectorFilterName), Value: codec.Described{Descriptor: uint64(selectorFilterCode), Value: o.Selector}})
	}
	for _, name := range slices.Sorted(maps.Keys(o.Filters)) {
		switch {
		case name == "":
			return nil, fmt.Errorf("amq: ReceiverOptions.Filters: a filter name is empty")
		case name == selectorFilterName && o.Selector != "":
			return nil, fmt.Errorf("amq: ReceiverOptions.Filters has %q, which ReceiverOptions.Selector sets: give the selector one way", name)
		case name == noLocalFilterName && o.NoLocal:
			return nil, fmt.Errorf("amq: ReceiverOptions.Filters has %q, which ReceiverOptions.NoLocal sets: give it one way", name)
		}
		v, err := toCodec(o.Filters[name], 1)
		if err != nil {
			return nil, fmt.Errorf("amq: ReceiverOptions.Filters %q: %w", name, err)
		}
		f = append(f, codec.MapEntry{Key: Symbol(name), Value: v})
	}
	if o.NoLocal {
		f = append(f, codec.MapEntry{Key: Symbol(noLocalFilterName), Value: codec.Described{Descriptor: uint64(noLocalFilterCode), Value: noLocalFilterValue}})
	}
	return f, nil
}
