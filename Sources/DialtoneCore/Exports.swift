// The value types front ends draw and pass back. Re-exported one by one so that the TUI
// sees these and nothing else of the protocol and store modules.
@_exported import struct DialtoneStore.StoredMessage
@_exported import struct DialtoneStore.MessageReply
@_exported import struct DialtoneStore.MessageModeration
@_exported import struct DialtoneStore.Conversation
@_exported import struct DialtoneStore.Attachment
@_exported import struct DialtoneStore.Contact
@_exported import struct DialtoneStore.SubscriptionRequest
@_exported import struct DialtoneStore.AddressBookEntry
@_exported import struct DialtoneStore.RoomRecord
@_exported import struct DialtoneXMPP.JID
@_exported import enum DialtoneXMPP.ConnectionState
@_exported import enum DialtoneXMPP.XMPPDateTime
@_exported import struct DialtoneXMPP.PresenceUpdate
@_exported import struct DialtoneJingle.CallInfo
@_exported import struct DialtoneJingle.CallMediaConfiguration
@_exported import struct DialtoneStore.CallRecord
@_exported import struct DialtoneStore.CallLogEntry
@_exported import struct DialtoneMedia.CallStatistics
@_exported import struct DialtoneMedia.DecodedAudio
@_exported import class DialtoneMedia.AudioFilePlayer
@_exported import struct DialtoneXMPP.AdHocCommand
@_exported import struct DialtoneXMPP.AdHocResponse
@_exported import struct DialtoneXMPP.DataForm
@_exported import struct DialtoneXMPP.DataFormField
@_exported import enum DialtoneStore.StoreError
// Audio devices, for `dialtone audio`, voicemail playback and the ring tone.
@_exported import enum DialtoneMedia.AudioDevices
@_exported import class DialtoneMedia.AudioRecorder
// End-to-end encryption: how a message was encrypted and the user's trust in devices.
@_exported import struct DialtoneStore.MessageEncryption
@_exported import enum DialtoneStore.OMEMOTrust
