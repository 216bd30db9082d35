package org

// ManageSubOrgs lets a member create, rename and archive the
// organization's sub-organizations (package suborg). Owners and admins
// have it; their keys are managed with ManageKeys like every key.
const ManageSubOrgs Permission = "suborgs.manage"

func init() {
	grants[Owner] = append(grants[Owner], ManageSubOrgs)
	grants[Admin] = append(grants[Admin], ManageSubOrgs)
}
