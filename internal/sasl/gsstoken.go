package sasl

import (
	"bytes"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// The Kerberos V5 GSS-API mechanism's tokens (RFC 1964, RFC 4121) that the
// SASL GSSAPI exchange needs: the framed initial context token, and the
// unsealed Wrap tokens of the security-layer negotiation.

// oidKRB5 is the Kerberos V5 GSS-API mechanism, 1.2.840.113554.1.2.2.
var oidKRB5 = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}

// Token ids inside a framed context token (RFC 4121 §4.1).
var (
	tokIDAPReq = []byte{0x01, 0x00}
	tokIDAPRep = []byte{0x02, 0x00}
	tokIDError = []byte{0x03, 0x00}
)

// frameContextToken wraps a Kerberos message in the GSS-API
// InitialContextToken framing (RFC 2743 §3.1): [APPLICATION 0] { OID,
// token id, message }.
func frameContextToken(tokID, msg []byte) ([]byte, error) {
	oid, err := asn1.Marshal(oidKRB5)
	if err != nil {
		return nil, err
	}
	b := append(oid, tokID...)
	return asn1tools.AddASNAppTag(append(b, msg...), 0), nil
}

// unframeContextToken undoes frameContextToken.
func unframeContextToken(b []byte) (tokID, msg []byte, err error) {
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(b, &raw); err != nil || len(rest) > 0 || raw.Class != asn1.ClassApplication || raw.Tag != 0 {
		return nil, nil, errors.New("not a GSS-API context token")
	}
	var oid asn1.ObjectIdentifier
	rest, err := asn1.Unmarshal(raw.Bytes, &oid)
	if err != nil || !oid.Equal(oidKRB5) || len(rest) < 2 {
		return nil, nil, errors.New("not a Kerberos V5 GSS-API context token")
	}
	return rest[:2], rest[2:], nil
}

// Wrap token flags (RFC 4121 §4.2.2).
const (
	wrapSentByAcceptor = 0x01
	wrapSealed         = 0x02
	wrapAcceptorSubkey = 0x04
)

// unwrap checks an unsealed Wrap token from the acceptor with key and
// returns its payload and flags.
func unwrap(b []byte, key types.EncryptionKey) (payload []byte, flags byte, err error) {
	if len(b) < gssapi.HdrLen || !bytes.Equal(b[:2], []byte{0x05, 0x04}) {
		return nil, 0, errors.New("not a Kerberos Wrap token")
	}
	flags = b[2]
	if flags&wrapSealed != 0 {
		return nil, 0, errors.New("sealed (encrypted) Wrap token: a confidentiality layer is not supported")
	}
	// Undo the right rotation by RRC of what follows the header (§4.2.5),
	// then parse with RRC zeroed, as the checksum was computed.
	tok := bytes.Clone(b)
	if rrc := int(binary.BigEndian.Uint16(tok[6:8])); rrc != 0 {
		data := tok[gssapi.HdrLen:]
		if len(data) > 0 {
			rrc %= len(data)
			copy(data, append(bytes.Clone(data[rrc:]), data[:rrc]...))
		}
		binary.BigEndian.PutUint16(tok[6:8], 0)
	}
	var wt gssapi.WrapToken
	if err := wt.Unmarshal(tok, true); err != nil {
		return nil, 0, err
	}
	if ok, err := wt.Verify(key, keyusage.GSSAPI_ACCEPTOR_SEAL); !ok {
		return nil, 0, fmt.Errorf("gssapi: Wrap token checksum: %v", err)
	}
	return wt.Payload, flags, nil
}

// wrap makes an unsealed Wrap token from the initiator.
func wrap(payload []byte, key types.EncryptionKey, flags byte, seq uint64) ([]byte, error) {
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	wt := gssapi.WrapToken{
		Flags:     flags,
		EC:        uint16(et.GetHMACBitLength() / 8),
		SndSeqNum: seq,
		Payload:   payload,
	}
	if err := wt.SetCheckSum(key, keyusage.GSSAPI_INITIATOR_SEAL); err != nil {
		return nil, err
	}
	return wt.Marshal()
}

// authenticatorChecksum is the GSS-API checksum of the authenticator
// (RFC 4121 §4.1.1): Lgth 16, no channel bindings, the context flags.
func authenticatorChecksum(flags uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:4], 16)
	binary.LittleEndian.PutUint32(b[20:24], flags)
	return b
}
