namespace Nex.Security;
